import ChatFlowCore
import ChatFlowServer
import ChatFlowStorage
import Foundation
import NIOCore
import NIOPosix

/// Reads one chat's history over HTTP the way clients do and measures each request from
/// send to the last byte of the answer: the newest page, scrolling back page by page, a
/// jump to a random moment of the chat's history, and searches of one term, two terms and
/// a prefix. Each kind runs `requests` times, spread over `connections` keep-alive
/// connections that each wait for an answer before the next request (closed loop: this
/// measures how long one read takes, not how many the server can take at once).
struct ReadBenchmark {
    struct Settings {
        var target: LoadTarget
        var signer: TokenVerifier
        var user: String
        var chat: String?
        var requests: Int
        var connections: Int
        var pageSize: Int
        var seed: UInt64
    }

    struct Kind: Encodable {
        let name: String
        let requests: Int
        let errors: Int
        /// Answers with fewer items than asked for: a query that rarely matches measures
        /// something other than a full page.
        let shortPages: Int
        let meanItems: Double
        let p50Ms: Double
        let p90Ms: Double
        let p99Ms: Double
        let p999Ms: Double
        let maxMs: Double
    }

    struct Result: Encodable {
        let chat: String
        let connections: Int
        let seconds: Double
        let kinds: [Kind]
        var failed: Bool { kinds.contains { $0.errors > 0 } }
    }

    /// One request of a run and what its answer must look like.
    fileprivate struct Read: Sendable {
        let path: String
        let limit: Int
    }

    /// Search terms that occur throughout a chat written by `WorkloadGenerator` (its common
    /// vocabulary), so that every query fills its page from the newest messages back.
    static let terms = [
        "deploy", "latency", "review", "release", "server", "cache", "query", "error", "build",
        "merge", "ticket", "meeting", "tomorrow", "thanks", "database", "metrics", "config",
        "branch", "client", "restart", "dashboard", "customer", "feedback", "version",
    ]
    static let prefixes = ["re*", "de*", "me*", "co*", "cu*", "ca*", "ti*", "da*"]

    let settings: Settings
    let progress: @Sendable (String) -> Void

    func run() async throws -> Result {
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let http = LoadHTTPClient(target: settings.target, connections: settings.connections, group: loops)
        do {
            try await http.start()
            let result = try await run(http)
            await http.shutdown()
            try? await loops.shutdownGracefully()
            return result
        } catch {
            await http.shutdown()
            try? await loops.shutdownGracefully()
            if error is LoadError { throw error }
            throw LoadError("reading from http://\(settings.target.authority) failed: \(error)")
        }
    }

    private func run(_ http: LoadHTTPClient) async throws -> Result {
        let bearer = "Bearer " + (try await settings.signer.sign(user: settings.user, ttl: 3600))
        let chat = try await chooseChat(http, bearer: bearer)
        let (oldest, newest) = try await timeRange(of: chat, http, bearer: bearer)
        progress("chat \(chat): messages from \(RFC3339.format(milliseconds: oldest)) to \(RFC3339.format(milliseconds: newest))")

        var random = SplitMix64(seed: settings.seed)
        let size = settings.pageSize
        let base = "/chats/\(chat)"
        @Sendable func search(_ query: String) -> Read {
            Read(path: "\(base)/search?limit=\(size)&query=\(Self.encode(query))", limit: size)
        }
        var kinds: [Kind] = []
        let started = ContinuousClock.now

        kinds.append(try await measure("page newest", http, bearer: bearer) { _ in
            Read(path: "\(base)/messages?limit=\(size)", limit: size)
        })
        kinds.append(try await scroll(base, http, bearer: bearer))
        let moments = (0..<settings.requests).map { _ in oldest + random.next(below: newest - oldest + 1) }
        kinds.append(try await measure("page at a random time", http, bearer: bearer) { index in
            Read(path: "\(base)/messages?limit=\(size)&cursor=\(Self.encode(RFC3339.format(milliseconds: moments[index])))", limit: size)
        })
        let single = (0..<settings.requests).map { _ in Self.terms[Int(random.next(below: UInt64(Self.terms.count)))] }
        kinds.append(try await measure("search one term", http, bearer: bearer) { search(single[$0]) })
        let pairs = (0..<settings.requests).map { _ -> String in
            let first = Int(random.next(below: UInt64(Self.terms.count)))
            let second = (first + 1 + Int(random.next(below: UInt64(Self.terms.count - 1)))) % Self.terms.count
            return Self.terms[first] + " " + Self.terms[second]
        }
        kinds.append(try await measure("search two terms", http, bearer: bearer) { search(pairs[$0]) })
        kinds.append(try await fill(pairs, base, http, bearer: bearer))
        let prefixQueries = (0..<settings.requests).map { _ in Self.prefixes[Int(random.next(below: UInt64(Self.prefixes.count)))] }
        kinds.append(try await measure("search prefix", http, bearer: bearer) { search(prefixQueries[$0]) })

        return Result(chat: chat, connections: settings.connections, seconds: (ContinuousClock.now - started).seconds, kinds: kinds)
    }

    // MARK: - Runs

    /// Runs `settings.requests` reads, request `i` made by `read(i)`, with one closed-loop
    /// worker per connection.
    private func measure(_ name: String, _ http: LoadHTTPClient, bearer: String, _ read: @escaping @Sendable (Int) -> Read) async throws -> Kind {
        progress("\(name): \(settings.requests) requests")
        let workers = settings.connections
        let requests = settings.requests
        let tallies = try await withThrowingTaskGroup(of: Tally.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var tally = Tally()
                    for index in stride(from: worker, to: requests, by: workers) {
                        try await tally.time(read(index), http, bearer: bearer)
                    }
                    return tally
                }
            }
            var all = Tally()
            for try await tally in group { all.add(tally) }
            return all
        }
        return tallies.kind(name)
    }

    /// Scrolls back from the newest page through `nextCursor`, one page after another on
    /// one connection (a reader's scroll is sequential), starting over at the end.
    private func scroll(_ base: String, _ http: LoadHTTPClient, bearer: String) async throws -> Kind {
        let name = "page scrolling back"
        progress("\(name): \(settings.requests) requests")
        var tally = Tally()
        var cursor: String?
        for _ in 0..<settings.requests {
            let path = "\(base)/messages?limit=\(settings.pageSize)" + Self.cursorParameter(cursor)
            let answer = try await tally.time(Read(path: path, limit: settings.pageSize), http, bearer: bearer)
            cursor = answer?.nextCursor
        }
        return tally.kind(name)
    }

    /// What a reader waits for a full page of two-term results: a search may pause with a
    /// short page and a cursor when its terms rarely meet, so this follows `nextCursor` until
    /// the page is full or the history ends, and times the whole.
    private func fill(_ queries: [String], _ base: String, _ http: LoadHTTPClient, bearer: String) async throws -> Kind {
        let name = "search two terms, page filled"
        progress("\(name): \(settings.requests) pages")
        var tally = Tally()
        for query in queries {
            var items = 0
            var cursor: String?
            var failed = false
            let started = ContinuousClock.now
            repeat {
                let path = "\(base)/search?limit=\(settings.pageSize - items)&query=\(Self.encode(query))" + Self.cursorParameter(cursor)
                var step = Tally()
                guard let answer = try await step.time(Read(path: path, limit: settings.pageSize - items), http, bearer: bearer) else {
                    failed = true
                    break
                }
                items += step.items
                cursor = answer.nextCursor
            } while items < settings.pageSize && cursor != nil
            tally.record(ContinuousClock.now - started, items: items, limit: settings.pageSize, failed: failed)
        }
        return tally.kind(name)
    }

    // MARK: - Setup

    /// The chat given, or else the first of the user's chats.
    private func chooseChat(_ http: LoadHTTPClient, bearer: String) async throws -> String {
        if let chat = settings.chat { return chat }
        let response = try await http.send(.init(method: .GET, path: "/chats", authorization: bearer))
        guard response.status == 200, let object = Self.json(response.body) else {
            throw LoadError("GET /chats failed: HTTP \(response.status) \(response.text)")
        }
        let chats = object["chats"] as? [[String: Any]] ?? []
        guard let id = chats.first?["id"] as? String else {
            throw LoadError("user '\(settings.user)' is in no chat; give one with --chat")
        }
        return id
    }

    /// The times of the chat's first and last messages, in Unix milliseconds.
    private func timeRange(of chat: String, _ http: LoadHTTPClient, bearer: String) async throws -> (UInt64, UInt64) {
        func edge(_ direction: String) async throws -> UInt64 {
            let path = "/chats/\(chat)/messages?limit=1&direction=\(direction)"
            let response = try await http.send(.init(method: .GET, path: path, authorization: bearer))
            guard response.status == 200, let object = Self.json(response.body) else {
                throw LoadError("GET \(path) failed: HTTP \(response.status) \(response.text)")
            }
            guard let message = (object["messages"] as? [[String: Any]])?.first,
                  let text = message["createdAt"] as? String, let time = try? RFC3339.milliseconds(text) else {
                throw LoadError("chat \(chat) has no messages to read")
            }
            return time
        }
        return (try await edge("newer"), try await edge("older"))
    }

    // MARK: - Helpers

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "+&=?#")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// `&cursor=…` to continue from `cursor`, or nothing for the first page.
    static func cursorParameter(_ cursor: String?) -> String {
        cursor.map { "&cursor=\(encode($0))" } ?? ""
    }

    static func json(_ body: ByteBuffer) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
    }
}

extension ReadBenchmark {
    /// One worker's measurements of one kind.
    fileprivate struct Tally: Sendable {
        var latencies = LatencyHistogram()
        var errors = 0
        var shortPages = 0
        var items = 0

        struct Answer {
            let nextCursor: String?
        }

        /// Sends `read` and records how long the answer took; nil when it failed.
        @discardableResult
        mutating func time(_ read: Read, _ http: LoadHTTPClient, bearer: String) async throws -> Answer? {
            let sent = ContinuousClock.now
            let response: LoadHTTPClient.Response
            do {
                response = try await http.send(.init(method: .GET, path: read.path, authorization: bearer))
            } catch {
                errors += 1
                return nil
            }
            latencies.record(microseconds: UInt64(max(0, (ContinuousClock.now - sent).nanoseconds / 1000)))
            // Every later read would be refused too, and timed as if it were an answer.
            if response.status == 429 {
                throw LoadError("the server limits reads per user (HTTP 429: \(response.text)); start it with CHATFLOW_READ_RATE_LIMIT=0 to measure reads")
            }
            guard response.status == 200, let object = ReadBenchmark.json(response.body),
                  let messages = object["messages"] as? [Any] else {
                errors += 1
                return nil
            }
            items += messages.count
            if messages.count < read.limit { shortPages += 1 }
            return Answer(nextCursor: object["nextCursor"] as? String)
        }

        /// Records a whole exchange of several requests as one.
        mutating func record(_ duration: Duration, items: Int, limit: Int, failed: Bool) {
            if failed {
                errors += 1
                return
            }
            latencies.record(microseconds: UInt64(max(0, duration.nanoseconds / 1000)))
            self.items += items
            if items < limit { shortPages += 1 }
        }

        mutating func add(_ other: Tally) {
            latencies.add(other.latencies)
            errors += other.errors
            shortPages += other.shortPages
            items += other.items
        }

        func kind(_ name: String) -> Kind {
            let count = latencies.count + errors
            return Kind(
                name: name, requests: count, errors: errors, shortPages: shortPages,
                meanItems: latencies.count == 0 ? 0 : Double(items) / Double(latencies.count),
                p50Ms: latencies.milliseconds(atPercentile: 50), p90Ms: latencies.milliseconds(atPercentile: 90),
                p99Ms: latencies.milliseconds(atPercentile: 99), p999Ms: latencies.milliseconds(atPercentile: 99.9),
                maxMs: latencies.maxMilliseconds)
        }
    }
}
