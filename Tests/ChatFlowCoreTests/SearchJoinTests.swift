@testable import ChatFlowCore
import ChatFlowStorage
import Testing

/// Searches whose terms each occur in many messages but together in few, checked page by
/// page against a model that filters every posted message, with the default scan budget
/// and with budgets small enough that pages pause mid-join.
@Suite struct SearchJoinTests {
    /// A message as the model knows it: its current text, or nil once deleted.
    private struct Posted {
        var id: MessageID
        var author: String
        var time: UInt64
        var content: String?
    }

    /// The ids of every message the model says matches, newest first.
    private static func expected(_ text: String, _ posts: [Posted]) throws -> [String] {
        let query = try SearchQuery.parse(text)
        return posts.reversed().compactMap { post -> String? in
            guard let content = post.content, query.passesFilters(author: post.author, createdAt: post.time) else { return nil }
            let terms = Set(SearchDocument.terms(of: content))
            guard query.requiredTerms.allSatisfy(terms.contains),
                  query.prefixes.allSatisfy({ prefix in terms.contains { $0.hasPrefix(prefix) } }),
                  query.phrases.allSatisfy({ Tokenizer.containsPhrase($0, inText: content) })
            else { return nil }
            return post.id.description
        }
    }

    /// A chat of 900 messages: `alpha` and `beta` are each in about half of them, both in one
    /// in twelve, and `"alpha beta"` in fewer; filler terms `gamma*` and ticket-like `x<n>`
    /// terms (900 distinct, so `x*` is too broad to merge) make prefixes; two authors; one
    /// message a minute from 2026-01-01; some messages deleted and some edited.
    private static func populate(_ world: TestWorld, _ chat: ChatID, _ clock: TestClock) async throws -> [Posted] {
        var random = SplitMix64(seed: 42)
        var posts: [Posted] = []
        func text() -> String {
            var words: [String] = []
            switch random.next(below: 100) {
            case ..<46: words = ["alpha"]
            case ..<92: words = ["beta"]
            case ..<96: words = ["beta", "and", "alpha"]
            case ..<98: words = ["alpha", "beta"]
            default: words = []
            }
            let filler = ["gamma", "gammaray", "gamut", "delta", "note", "today"]
            for _ in 0..<(1 + random.next(below: 3)) {
                words.insert(filler[Int(random.next(below: UInt64(filler.count)))], at: Int(random.next(below: UInt64(words.count + 1))))
            }
            words.append("x\(random.next(below: 900))")
            words.append("x\(random.next(below: 900))")
            return words.joined(separator: " ")
        }
        for index in 0..<900 {
            let time = TestTime.jan1 + UInt64(index) * 60_000
            clock.set(time)
            let author = random.next(below: 10) < 7 ? "alice" : "bob"
            let content = text()
            posts.append(Posted(id: try await world.post(author, chat, content), author: author, time: time, content: content))
            if index % 37 == 5 {
                let victim = Int(random.next(below: UInt64(posts.count)))
                if posts[victim].content != nil {
                    try await world.delete(posts[victim].author, chat, posts[victim].id)
                    posts[victim].content = nil
                }
            }
            if index % 23 == 11 {
                let edited = Int(random.next(below: UInt64(posts.count)))
                if posts[edited].content != nil {
                    let content = text()
                    try await world.edit(posts[edited].author, chat, posts[edited].id, content)
                    posts[edited].content = content
                }
            }
        }
        // Another chat with the same words: never part of the results.
        let other = try await world.createChat("alice")
        for index in 0..<50 { try await world.post("alice", other, "alpha beta gamma x\(index)") }
        try world.catchUp()
        return posts
    }

    /// Every page until the cursor runs out, allowing the short pages a spent budget gives;
    /// records an issue for a page over `limit` or a cursor that repeats.
    private static func walk(_ world: TestWorld, _ chat: ChatID, _ text: String, limit: Int, budget: Int) throws -> (ids: [String], pageSizes: [Int]) {
        let query = try SearchQuery.parse(text)
        var ids: [String] = []
        var cursor: String?
        var seen = Set<String>()
        var pageSizes: [Int] = []
        repeat {
            let page = try world.reader.search(in: chat, query: query, cursor: cursor, limit: limit, scanBudget: budget)
            pageSizes.append(page.items.count)
            #expect(page.items.count <= limit, "query \(text): page \(pageSizes.count) over the limit")
            ids += page.items.map(\.id)
            cursor = page.nextCursor
            if let cursor, !seen.insert(cursor).inserted {
                Issue.record("query \(text), budget \(budget): cursor repeats on page \(pageSizes.count)")
                break
            }
        } while cursor != nil
        return (ids, pageSizes)
    }

    static let queries = [
        "alpha beta", "beta alpha", "alpha beta gamma", "\"alpha beta\"", "\"beta and alpha\" today",
        "alpha gam*", "gamm* beta", "alpha beta gammar*", "gam* gammar*", "x1* x2*", "alpha x1* x2* x3*", "beta x*",
        "alpha beta from:bob", "alpha beta from:alice", "gam* from:bob", "alpha x4* from:bob",
        "alpha beta after:2026-01-01T03:00:00Z before:2026-01-01T09:30:00Z",
        "beta gam* after:2026-01-01T12:00:00Z", "alpha beta from:bob before:2026-01-01T08:00:00Z",
        "x* from:bob after:2026-01-01T10:00:00Z", "after:2026-01-01T13:00:00Z", "from:bob",
        "alpha nothinglikethis", "alpha zz*",
    ]

    @Test func joinsMatchTheModelOnEveryPage() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            try await world.join("bob", chat)
            let posts = try await Self.populate(world, chat, clock)
            // The point of the data: each word alone is common, the conjunction is not.
            #expect(try Self.expected("alpha", posts).count > 350)
            #expect(try Self.expected("beta", posts).count > 350)
            #expect(try (20...80).contains(Self.expected("alpha beta", posts).count))
            for text in Self.queries {
                let expected = try Self.expected(text, posts)
                for limit in [1, 7, 100] {
                    let walked = try Self.walk(world, chat, text, limit: limit, budget: ChatFlowReader.searchScanBudget)
                    #expect(walked.ids == expected, "query \(text), limit \(limit): \(walked.ids.count) of \(expected.count)")
                    // With the full budget only the last page is short.
                    #expect(walked.pageSizes.dropLast().allSatisfy { $0 == limit }, "query \(text), limit \(limit): \(walked.pageSizes)")
                }
            }
        }
    }

    /// A budget spent mid-join ends the page early; its cursor continues exactly there.
    @Test func pausedPagesContinueWhereTheScanStopped() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            try await world.join("bob", chat)
            let posts = try await Self.populate(world, chat, clock)
            for text in Self.queries {
                let expected = try Self.expected(text, posts)
                // A budget of one pauses at nearly every move: slow, so only for some joins.
                let tightest = ["alpha beta", "alpha gam*", "x1* x2*", "alpha beta from:bob"].contains(text) ? [(5, 1)] : []
                for (limit, budget) in tightest + [(5, 7), (3, 40), (20, 150)] {
                    let walked = try Self.walk(world, chat, text, limit: limit, budget: budget)
                    #expect(walked.ids == expected, "query \(text), limit \(limit), budget \(budget): \(walked.ids.count) of \(expected.count)")
                }
            }
            // A small budget really does pause: some page before the last is short.
            let paused = try Self.walk(world, chat, "alpha beta", limit: 20, budget: 30)
            #expect(paused.pageSizes.dropLast().contains { $0 < 20 })
        }
    }

    /// Two common terms that never meet: the join runs through both lists without a
    /// candidate, and the budget bounds each request.
    @Test func termsThatNeverMeetEndWithinTheBudget() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            for index in 0..<400 {
                try await world.post("alice", chat, index.isMultiple(of: 2) ? "ping \(index)" : "pong \(index)")
            }
            let both = try await world.post("alice", chat, "ping pong")
            for index in 0..<400 {
                try await world.post("alice", chat, index.isMultiple(of: 2) ? "ping \(index)" : "pong \(index)")
            }
            try world.catchUp()
            let query = try SearchQuery.parse("ping pong")
            #expect(try world.reader.search(in: chat, query: query, cursor: nil, limit: 10).items.map(\.id) == [both.description])
            // 800 postings to pass: a budget of 100 pauses, and the walk still finds the one match.
            let first = try world.reader.search(in: chat, query: query, cursor: nil, limit: 10, scanBudget: 100)
            #expect(first.items.isEmpty)
            #expect(first.nextCursor != nil)
            #expect(try Self.walk(world, chat, "ping pong", limit: 10, budget: 100).ids == [both.description])
        }
    }

    /// Candidates that all fail the phrase check (a phrase of one word repeated: one term's
    /// postings, which always agree with themselves): the budget bounds each request here
    /// too. It used to be checked only while cursors disagreed, so one request walked every
    /// posting of the term.
    @Test(arguments: ["\"to to\"", "to \"to to\"", "\"to to\" after:2026-01-01"])
    func candidatesThatFailTheirPhraseEndWithinTheBudget(text: String) async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            for index in 0..<300 { try await world.post("alice", chat, "to \(index) and back") }
            let both = try await world.post("alice", chat, "to to the end")
            for index in 0..<300 { try await world.post("alice", chat, "to \(index) and back") }
            try world.catchUp()
            let first = try world.reader.search(in: chat, query: try SearchQuery.parse(text), cursor: nil, limit: 10, scanBudget: 100)
            #expect(first.items.isEmpty && first.nextCursor != nil, "\(first.items.count) items")
            let walk = try Self.walk(world, chat, text, limit: 10, budget: 100)
            #expect(walk.ids == [both.description])
            #expect(walk.pageSizes.count > 3, "\(walk.pageSizes)")
        }
    }

    /// A run's galloping search from the head agrees with a plain scan, for every target and
    /// head position, at a run's edges too.
    @Test func gallopingWithinARunFindsWhatAScanFinds() {
        var random = SplitMix64(seed: 7)
        for count in [0, 1, 2, 3, 5, 64, 130] {
            var ids = Set<ULID>()
            while ids.count < count { ids.insert(ULID(high: random.next() % 1000, low: random.next() % 4)) }
            let run = ids.sorted()
            for end in -1...run.count {
                for _ in 0..<20 {
                    let target = ULID(high: random.next() % 1002, low: random.next() % 4)
                    let scanned = run.indices.last { $0 < end && run[$0] <= target }
                    #expect(PostingCursor.RunStream.newest(in: run, atMost: target, before: end) == scanned,
                            "\(count) ids, before \(end), target \(target)")
                }
            }
        }
    }
}
