@testable import ChatFlowCore
import ChatFlowStorage
import Foundation
import Testing

@Suite struct SearchTests {
    /// Every match of `text`, walking all pages; the contents, newest first.
    private func search(_ world: TestWorld, _ chat: ChatID, _ text: String, limit: Int = 100, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        try matches(world, chat, text, limit: limit, sourceLocation: sourceLocation).map(\.content)
    }

    private func matches(_ world: TestWorld, _ chat: ChatID, _ text: String, limit: Int = 100, sourceLocation: SourceLocation = #_sourceLocation) throws -> [MessageView] {
        let query = try SearchQuery.parse(text)
        return try walkPages(limit: limit, sourceLocation: sourceLocation) {
            try world.reader.search(in: chat, query: query, cursor: $0, limit: limit)
        }.items
    }

    /// A new message's postings are written as its id, not as the runs they join: what a
    /// post writes to the log does not grow with the runs of its words.
    @Test func aPostingIsWrittenAsItsIDAlone() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            let text = (0..<32).map { "word\($0)" }.joined(separator: " ")
            let directory = world.directory.appending("data")
            func logBytes() throws -> Int {
                try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }.reduce(0) { total, name in
                    total + ((try FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)")[.size] as? Int) ?? 0)
                }
            }
            // One projection step per post, as a server at a low rate takes them.
            func post(_ count: Int) async throws {
                for _ in 0..<count {
                    try await world.post("alice", chat, text)
                    try world.catchUp()
                }
            }
            try await post(50)
            let before = try logBytes()
            try await post(150)
            let perPost = (try logBytes() - before) / 150
            // Rewriting each word's open run (a run holds 64 postings on average) takes over
            // 20 KB per post here; with the ids alone, a post and all its rows take under 4 KB.
            #expect(perPost < 6_000, "\(perPost) bytes of log per post")
            #expect(try search(world, chat, "word31", limit: 100).count == 200)
            try world.expectVerified()
        }
    }

    /// Postings are stored in runs whose ends depend on the postings alone. Posted, edited
    /// (terms gained and lost, on old messages too) and deleted in a random order, projected
    /// in small steps, then pruned by retention: the rows always equal a rebuild's, and every
    /// search answers what a plain filter of the messages answers.
    @Test(arguments: [1 as UInt64, 2, 3])
    func postingRunsStayTheSameHoweverTheyWereBuilt(seed: UInt64) async throws {
        let clock = TestClock()
        // The seed also fixes the message ids, and with them which messages end runs.
        try await withWorld(clock: clock, seed: seed) { world in
            var random = SplitMix64(seed: seed)
            let words = ["alpha", "beta", "gamma", "delta"]
            func text() -> String {
                let picked = words.filter { _ in random.next() & 1 == 0 }
                return (picked.isEmpty ? ["omega"] : picked).joined(separator: " ")
            }
            let chat = try await world.createChat("alice")
            var live: [MessageID: String] = [:]
            var order: [MessageID] = []
            for step in 0..<900 {
                clock.set(TestTime.jan1 + UInt64(step) * 1000)
                let roll = random.next() % 10
                if roll < 7 || order.isEmpty {
                    let content = text()
                    let id = try await world.post("alice", chat, content)
                    live[id] = content
                    order.append(id)
                } else {
                    let id = order[Int(random.next() % UInt64(order.count))]
                    guard live[id] != nil else { continue }
                    if roll < 9 {
                        let content = text()
                        try await world.edit("alice", chat, id, content)
                        live[id] = content
                    } else {
                        try await world.delete("alice", chat, id)
                        live[id] = nil
                    }
                }
                if step % 97 == 0 { try world.catchUp() }
            }
            try world.catchUp()
            // The layout really has closed runs to get right.
            let family = world.engine.store.family(of: SearchProjection.name)
            var runs = 0
            let iterator = world.engine.database.makeIterator(over: family, lower: [0x01], upper: [0x02])
            iterator.seekToFirst()
            while iterator.isValid { runs += 1; iterator.next() }
            #expect(runs > 5, "\(runs) rows for 5 terms: some runs should have closed")

            // The rows are exactly the runs of the current postings, however they came about.
            let salt = world.engine.store.salt
            func expectCanonicalRuns(after horizon: MessageID? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
                var postings: [String: [ULID]] = [:]
                for (id, content) in live where horizon.map({ id.ulid >= $0.ulid }) ?? true {
                    for term in SearchDocument.terms(of: content) { postings[term, default: []].append(id.ulid) }
                }
                var expected: [([UInt8], [UInt8])] = []
                for (term, ids) in postings {
                    var (floor, run) = (ULID.zero, [ULID]())
                    for id in ids.sorted() {
                        run.append(id)
                        if PostingBlock.isBoundary(id, salt: salt) {
                            expected.append((SearchKeys.block(chat, term, id), PostingBlock(floor: floor, ids: run).encoded()))
                            (floor, run) = (id, [])
                        }
                    }
                    expected.append((SearchKeys.block(chat, term, PostingBlock.openKey), PostingBlock(floor: floor, ids: run).encoded()))
                }
                expected.sort { $0.0.lexicographicallyPrecedes($1.0) }
                var stored: [([UInt8], [UInt8])] = []
                let rows = world.engine.database.makeIterator(over: world.engine.store.family(of: SearchProjection.name), lower: [0x01], upper: [0x02])
                rows.seekToFirst()
                while rows.isValid { stored.append((rows.key, rows.value)); rows.next() }
                #expect(stored.map(\.0) == expected.map(\.0), "run keys", sourceLocation: sourceLocation)
                #expect(stored.map(\.1) == expected.map(\.1), "run contents", sourceLocation: sourceLocation)
            }
            try expectCanonicalRuns()

            // Messages that end runs, deleted: their runs must join the next ones.
            let boundaries = order.filter { live[$0] != nil && PostingBlock.isBoundary($0.ulid, salt: salt) }
            #expect(!boundaries.isEmpty, "some of \(order.count) messages should end runs")
            for id in boundaries.prefix(6) {
                try await world.delete("alice", chat, id)
                live[id] = nil
            }
            try world.catchUp()
            try world.expectVerified()
            try expectCanonicalRuns()
            func expected(_ required: [String], after horizon: MessageID? = nil) -> [String] {
                order.reversed().filter { id in
                    guard let content = live[id], horizon.map({ id.ulid >= $0.ulid }) ?? true else { return false }
                    let terms = Set(content.split(separator: " ").map(String.init))
                    return required.allSatisfy(terms.contains)
                }.map { live[$0]! }
            }
            for query in [["alpha"], ["alpha", "beta"], ["gamma", "delta"], ["alpha", "beta", "gamma", "delta"]] {
                #expect(try search(world, chat, query.joined(separator: " ")) == expected(query), "query \(query)")
            }
            // Retention to the middle of the history: again a rebuild's rows, and the rest found.
            let horizon = order[order.count / 2]
            let retention = Retention(days: 1, log: world.engine.log, store: world.engine.store, projector: world.engine.projector)
            #expect(try retention.run(now: horizon.ulid.timestamp + TestTime.day).outcome == .pruned)
            try world.expectVerified()
            try expectCanonicalRuns(after: horizon)
            #expect(try search(world, chat, "alpha beta") == expected(["alpha", "beta"], after: horizon))
        }
    }

    /// Which messages end runs depends on a salt made once per data directory: it is kept
    /// across restarts (a rebuild must lay runs out as before), and another directory's salt
    /// picks other messages, so knowing the code does not tell a user which of theirs to delete
    /// to make one run grow without bound.
    @Test func runEndsDependOnTheDataDirectorysSalt() async throws {
        try await withWorld { world in
            let salt = world.engine.store.salt
            let chat = try await world.createChat("alice")
            for index in 0..<300 { try await world.post("alice", chat, "same words \(index)") }
            try world.catchUp()
            try world.reopen()
            #expect(world.engine.store.salt == salt, "the salt is kept with the data")
            try world.expectVerified()

            let ids = (0..<4096).map { ULID(high: UInt64($0) << 16, low: UInt64($0) &* 0x9E37_79B9_7F4A_7C15) }
            let ends = ids.filter { PostingBlock.isBoundary($0, salt: salt) }
            let otherEnds = ids.filter { PostingBlock.isBoundary($0, salt: salt ^ 1) }
            #expect((32...128).contains(ends.count), "about 1 in 64 of \(ids.count) ids end runs: \(ends.count)")
            #expect(Set(ends).intersection(otherEnds).count < ends.count / 4, "another salt picks other ids")
        }
    }

    @Test func caseAndAccentsFold() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            for text in ["Meet at the Café", "cafe au lait", "coffee shop", "CAFÉ NOIR", "cafeteria", "a naïve plan", "NAIVE question"] {
                try await world.post("alice", chat, text)
            }
            try world.catchUp()
            let cafes = ["CAFÉ NOIR", "cafe au lait", "Meet at the Café"]
            for query in ["cafe", "Café", "CAFE", "café", "CAFÉ"] {
                #expect(try search(world, chat, query) == cafes, "query \(query)")
            }
            #expect(try search(world, chat, "naive") == ["NAIVE question", "a naïve plan"])
            #expect(try search(world, chat, "Naïve") == ["NAIVE question", "a naïve plan"])
            #expect(try search(world, chat, "tea").isEmpty)
        }
    }

    /// An emoji is a word of its own, whatever skin tone or presentation it was sent with,
    /// and an edit that takes it away takes its posting away.
    @Test func emojiAreFoundAsWords() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            for text in ["ship it 👍🏽", "party🎉", "I ❤️ NY", "no emoji here"] {
                try await world.post("alice", chat, text)
            }
            let edited = try await world.post("alice", chat, "🎉 soon")
            try world.catchUp()
            #expect(try search(world, chat, "👍") == ["ship it 👍🏽"])
            #expect(try search(world, chat, "🎉") == ["🎉 soon", "party🎉"])
            #expect(try search(world, chat, "party 🎉") == ["party🎉"])
            #expect(try search(world, chat, "❤") == ["I ❤️ NY"])
            try await world.edit("alice", chat, edited, "later")
            try world.catchUp()
            #expect(try search(world, chat, "🎉") == ["party🎉"])
            try world.expectVerified()
        }
    }

    @Test func aPrefixMatchesTheStartOfAnyTerm() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            for text in ["Meet at the Café", "decaf only", "Caffeine!", "coffee shop", "the cafeteria", "caf"] {
                try await world.post("alice", chat, text)
            }
            try world.catchUp()
            let expected = ["caf", "the cafeteria", "Caffeine!", "Meet at the Café"]
            #expect(try search(world, chat, "caf*") == expected)
            #expect(try search(world, chat, "CAF*") == expected)
            #expect(try search(world, chat, "café*") == ["the cafeteria", "Meet at the Café"])
            #expect(try search(world, chat, "cafet*") == ["the cafeteria"])
            #expect(try search(world, chat, "caf* meet") == ["Meet at the Café"])
            #expect(try search(world, chat, "caffx*").isEmpty)
        }
    }

    @Test func aPhraseNeedsTheWordsTogetherAndInOrder() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            for text in ["the deploy done at five", "deploy is done", "done: deploy", "Deploy, DONE!", "deploy\ndone"] {
                try await world.post("alice", chat, text)
            }
            try world.catchUp()
            #expect(try search(world, chat, "\"deploy done\"") == ["deploy\ndone", "Deploy, DONE!", "the deploy done at five"])
            #expect(try search(world, chat, "“deploy done”") == ["deploy\ndone", "Deploy, DONE!", "the deploy done at five"])
            #expect(try search(world, chat, "\"done deploy\"") == ["done: deploy"])
            #expect(try search(world, chat, "deploy done") == ["deploy\ndone", "Deploy, DONE!", "done: deploy", "deploy is done", "the deploy done at five"])
            #expect(try search(world, chat, "\"deploy done at\" five") == ["the deploy done at five"])
            #expect(try search(world, chat, "\"deploy is\" \"at five\"").isEmpty)
        }
    }

    /// A full page at the very end of the results has no cursor: the candidates after its
    /// last match are looked at, and none matches (a phrase's words in another order; a
    /// deleted message under a time filter).
    @Test(arguments: [("\"blue red\"", false), ("after:2020-01-01", true)])
    func aFullPageAtTheEndHasNoCursor(query: String, deleteOldest: Bool) async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            let oldest = try await world.post("alice", chat, "red blue")
            try await world.post("alice", chat, "blue red one")
            try await world.post("alice", chat, "blue red two")
            if deleteOldest { try await world.delete("alice", chat, oldest) }
            try world.catchUp()
            let page = try world.reader.search(in: chat, query: SearchQuery.parse(query), cursor: nil, limit: 2)
            #expect(page.items.map(\.content) == ["blue red two", "blue red one"])
            #expect(page.nextCursor == nil)
        }
    }

    /// A `from:` search looks at the author's messages in the searched chat only: one in a
    /// chat where they wrote a lot elsewhere neither spends its budget on those (whose
    /// number the searcher could time) nor pauses on one of them (whose id and time a
    /// page's cursor would give away). With and without a word to join.
    @Test(arguments: ["from:alice", "hello from:alice"])
    func anAuthorsMessagesInOtherChatsAreNeverLookedAt(query: String) async throws {
        try await withWorld { world in
            let shared = try await world.createChat("bob")
            try await world.join("alice", shared)
            let hello = try await world.post("alice", shared, "hello bob")
            let elsewhere = try await world.createChat("alice")
            for n in 0..<40 { try await world.post("alice", elsewhere, "hello private \(n)") }
            try world.catchUp()
            let page = try world.reader.search(in: shared, query: SearchQuery.parse(query), cursor: nil, limit: 20, scanBudget: ChatFlowReader.candidateCost + 10)
            #expect(page.items.map(\.id) == [hello.description])
            #expect(page.nextCursor == nil)
            // Deleted, it leaves the author's rows in every chat.
            try await world.delete("alice", shared, hello)
            try world.catchUp()
            #expect(try world.reader.search(in: shared, query: SearchQuery.parse(query), cursor: nil, limit: 20).items.isEmpty)
            try world.expectVerified()
        }
    }

    @Test func filtersByAuthorAndTime() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            try await world.join("bob", chat)
            let posts: [(String, UInt64, String)] = [
                ("alice", TestTime.jan1 + TestTime.hour, "status report one"),
                ("bob", TestTime.jan1 + 2 * TestTime.hour, "status report two"),
                ("alice", TestTime.jan1 + TestTime.day, "status at midnight"),  // exactly 2026-01-02T00:00Z
                ("alice", TestTime.jan1 + TestTime.day + TestTime.hour, "status report three"),
                ("bob", TestTime.jan1 + 2 * TestTime.day + TestTime.hour, "status report four"),
                ("alice", TestTime.jan1 + 2 * TestTime.day + 2 * TestTime.hour, "unrelated"),
            ]
            for (author, time, text) in posts {
                clock.set(time)
                try await world.post(author, chat, text)
            }
            try world.catchUp()

            // A word drives the scan.
            #expect(try search(world, chat, "status from:alice") == ["status report three", "status at midnight", "status report one"])
            #expect(try search(world, chat, "status before:2026-01-02") == ["status report two", "status report one"])
            #expect(try search(world, chat, "status after:2026-01-02") == ["status report four", "status report three", "status at midnight"])
            #expect(try search(world, chat, "report after:2026-01-02 before:2026-01-03") == ["status report three"])
            #expect(try search(world, chat, "status before:2026-01-02T00:00:00.001Z") == ["status at midnight", "status report two", "status report one"])
            // A prefix drives the scan.
            #expect(try search(world, chat, "stat* from:bob") == ["status report four", "status report two"])
            #expect(try search(world, chat, "rep* before:2026-01-03") == ["status report three", "status report two", "status report one"])
            // Only filters: the author's own messages or the timeline drive the scan.
            #expect(try search(world, chat, "from:alice") == ["unrelated", "status report three", "status at midnight", "status report one"])
            #expect(try search(world, chat, "from:bob after:2026-01-02") == ["status report four"])
            #expect(try search(world, chat, "after:2026-01-02 before:2026-01-03") == ["status report three", "status at midnight"])
            #expect(try search(world, chat, "before:2026-01-02") == ["status report two", "status report one"])
            #expect(try search(world, chat, "from:carol").isEmpty)
        }
    }

    @Test(arguments: ["deploy", "depl*", "step deploy", "from:carol", "after:2026-01-01", "\"deploy step\""])
    func pagesHaveNoGapsOrRepeats(_ text: String) async throws {
        try await withWorld { world in
            let chat = try await world.createChat("carol")
            let other = try await world.createChat("carol")
            try await world.join("bob", chat)
            var expected: [String] = []
            var posted = 0
            while expected.count < 250 {
                posted += 1
                if posted % 7 == 3 {
                    // Not a match (except for the time filter, which every message passes).
                    let id = try await world.post("bob", chat, "lunch plans \(posted)")
                    if text.hasPrefix("after:") { expected.append(id.description) }
                } else if posted % 41 == 0 {
                    // A match, deleted: never returned.
                    let id = try await world.post("carol", chat, "deploy step \(posted)")
                    try await world.delete("carol", chat, id)
                } else {
                    expected.append(try await world.post("carol", chat, "deploy step \(posted)").description)
                }
                if posted % 5 == 0 { try await world.post("carol", other, "deploy step elsewhere \(posted)") }
            }
            try world.catchUp()
            let query = try SearchQuery.parse(text)
            let walked = try walkPages(limit: 20) { try world.reader.search(in: chat, query: query, cursor: $0, limit: 20) }
            #expect(walked.items.map(\.id) == expected.reversed(), "query \(text)")
            #expect(walked.pages == (expected.count + 19) / 20)
            #expect(walked.items.allSatisfy { $0.chatId == chat.description && !$0.deleted })
        }
    }

    @Test func anEditedMessageIsFoundByItsNewTextOnly() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            let message = try await world.post("alice", chat, "deploy the old build")
            try await world.post("alice", chat, "an old friend")
            try await world.edit("alice", chat, message, "ship the new release")
            try world.catchUp()
            #expect(try search(world, chat, "old") == ["an old friend"])
            #expect(try search(world, chat, "build").isEmpty)
            #expect(try search(world, chat, "bui*").isEmpty)
            #expect(try search(world, chat, "\"old build\"").isEmpty)
            #expect(try search(world, chat, "deploy").isEmpty)
            #expect(try matches(world, chat, "release").map(\.id) == [message.description])
            #expect(try search(world, chat, "\"new release\" ship") == ["ship the new release"])
            #expect(try search(world, chat, "rel*") == ["ship the new release"])

            // A second edit replaces the first.
            try await world.edit("alice", chat, message, "rolled back the build")
            try world.catchUp()
            #expect(try search(world, chat, "release").isEmpty)
            #expect(try search(world, chat, "build") == ["rolled back the build"])
            try world.expectVerified()
        }
    }

    @Test func deletedMessagesAreNeverReturned() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            try await world.post("alice", chat, "public plan alpha")
            let secret = try await world.post("alice", chat, "secret plan alpha")
            try await world.post("alice", chat, "another plan")
            try await world.delete("alice", chat, secret)
            // Edits and reactions after the delete do not bring it back.
            try await world.edit("alice", chat, secret, "secret plan beta")
            try await world.react("bob", chat, secret, "👀")
            try world.catchUp()
            for query in ["secret", "sec*", "\"secret plan\"", "beta", "alpha", "from:alice", "after:2026-01-01", "plan"] {
                #expect(try !matches(world, chat, query).contains { $0.id == secret.description }, "query \(query)")
            }
            #expect(try search(world, chat, "alpha") == ["public plan alpha"])
            try world.expectVerified()
        }
    }

    @Test func ticketCodesAreFoundWhole() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            for text in ["Fixed PLT-3699 today", "PLT-3700 and 3699", "see PLT3699", "plt-3699.", "OPS-142 blocks PLT-36990"] {
                try await world.post("alice", chat, text)
            }
            try world.catchUp()
            #expect(try search(world, chat, "PLT-3699") == ["plt-3699.", "Fixed PLT-3699 today"])
            #expect(try search(world, chat, "plt-3699") == ["plt-3699.", "Fixed PLT-3699 today"])
            #expect(try search(world, chat, "3699") == ["plt-3699.", "PLT-3700 and 3699", "Fixed PLT-3699 today"])
            #expect(try search(world, chat, "PLT3699") == ["see PLT3699"])
            #expect(try search(world, chat, "plt-36*") == ["OPS-142 blocks PLT-36990", "plt-3699.", "Fixed PLT-3699 today"])
            #expect(try search(world, chat, "ops-142") == ["OPS-142 blocks PLT-36990"])
        }
    }

    /// A prefix can start many distinct terms (every ticket number under `plt-1*`): each
    /// message with any of them matches, however many there are. A prefix matches bytes of
    /// the folded term, as the index does, also where it ends inside a character ("क" of
    /// "कि", one character with its vowel sign).
    @Test(arguments: [
        ("PLT-", ["plt-1*", "plt-1* closing", "plt-1* from:alice"]),
        ("किताब", ["क*", "कि*", "क* closing"]),
    ])
    func aPrefixOfManyDistinctTermsFindsEveryMessage(word: String, queries: [String]) async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            var expected: [String] = []
            for ticket in 1_000..<1_400 {
                // Letters for the digits: one word each in any script.
                let number = word.hasSuffix("-") ? "\(ticket)" : String("\(ticket)".map { Array("abcdefghij")[$0.wholeNumberValue!] })
                expected.append(try await world.post("alice", chat, "closing \(word)\(number) now").description)
                if ticket % 10 == 0 { try await world.post("alice", chat, "see OPS-\(ticket)") }
            }
            try world.catchUp()
            for text in queries {
                let query = try SearchQuery.parse(text)
                let walked = try walkPages(limit: 50) { try world.reader.search(in: chat, query: query, cursor: $0, limit: 50) }
                #expect(walked.items.map(\.id) == expected.reversed(), "query \(text): \(walked.items.count) of \(expected.count)")
            }
        }
    }

    @Test func aCursorFromOneChatIsRejectedForAnother() async throws {
        try await withWorld { world in
            let a = try await world.createChat("alice")
            let b = try await world.createChat("alice")
            for i in 0..<3 {
                try await world.post("alice", a, "deploy \(i)")
                try await world.post("alice", b, "deploy \(i)")
            }
            try world.catchUp()
            let query = try SearchQuery.parse("deploy")
            let cursor = try #require(try world.reader.search(in: a, query: query, cursor: nil, limit: 1).nextCursor)
            #expect(try world.reader.search(in: a, query: query, cursor: cursor, limit: 5).items.map(\.content) == ["deploy 1", "deploy 0"])
            expectInvalid("a search cursor of chat A in chat B") { try world.reader.search(in: b, query: query, cursor: cursor, limit: 5) }
            let timeline = try #require(try world.reader.messages(in: a, cursor: nil, limit: 1, direction: .older).nextCursor)
            expectInvalid("a timeline cursor for a search") { try world.reader.search(in: a, query: query, cursor: timeline, limit: 5) }
            // A cursor continues its own query: the same one spelled otherwise, not another.
            #expect(try world.reader.search(in: a, query: SearchQuery.parse("  DEPLOY deploy "), cursor: cursor, limit: 5).items.count == 2)
            for other in ["deploy*", "deploy from:alice", "deploy after:2026-01-01", "\"deploy 1\"", "release"] {
                expectInvalid("a cursor of 'deploy' for '\(other)'") { try world.reader.search(in: a, query: SearchQuery.parse(other), cursor: cursor, limit: 5) }
            }
            // Search is per chat: chat B's matches never show up in chat A.
            #expect(try search(world, a, "deploy").count == 3)
        }
    }
}
