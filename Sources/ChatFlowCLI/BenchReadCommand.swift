import ArgumentParser
import Foundation

/// `chatflow bench read`: history pages and searches over HTTP against a running server,
/// with latency percentiles per kind of read.
struct BenchReadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Measure history-page and search latency over HTTP in one chat of a running server.",
        discussion: """
        Signs in as --user with the server's secret and reads one chat (--chat, or the user's \
        first chat): the newest page, pages scrolling back through nextCursor, pages at random \
        moments of the chat's history, and searches of one term, two terms and a prefix drawn \
        from the load generator's vocabulary. Each kind runs --requests times over \
        --connections keep-alive connections, each waiting for its answer before the next \
        request. Latency counts from sending a request to the last byte of its answer. \
        Progress goes to stderr; the summary (or with --json one JSON object) to stdout. \
        Exits 1 if any request failed.

        A chat to read: `chatflow bench append --events 1000000 --producers 1 --chats 1 \
        --data-dir D`, then `CHATFLOW_READ_RATE_LIMIT=0 chatflow serve --data-dir D` (one user \
        reading flat out is over the default read limit) and `--user p0u0-0`.
        """
    )

    @OptionGroup var server: LoadServerOptions

    @Option(help: "The member of the chat to read as.")
    var user: String

    @Option(help: "The chat to read (default: the user's first chat).")
    var chat: String?

    @Option(help: "Requests of each kind.")
    var requests = 1000

    @Option(help: "Keep-alive connections, each with one request in flight.")
    var connections = 1

    @Option(help: "Messages per page and per search (1–100).")
    var pageSize = 50

    @Option(help: "Seed for the random moments and queries.")
    var seed: UInt64 = 1

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard requests > 0 else { throw ValidationError("--requests must be positive") }
        guard (1...256).contains(connections) else { throw ValidationError("--connections must be 1–256") }
        guard (1...100).contains(pageSize) else { throw ValidationError("--page-size must be 1–100") }
    }

    func run() async throws {
        let settings = ReadBenchmark.Settings(
            target: try server.target(), signer: try await server.signer(),
            user: user, chat: chat, requests: requests, connections: connections, pageSize: pageSize, seed: seed)
        let result: ReadBenchmark.Result
        do {
            result = try await ReadBenchmark(settings: settings) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }.run()
        } catch let error as LoadError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        print(json ? try result.jsonLine() : result.table())
        if result.failed { throw ExitCode(1) }
    }
}

extension ReadBenchmark.Result {
    func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func table() -> String {
        func f(_ value: Double) -> String { String(format: "%8.2f", value) }
        let header = "kind                      requests  errors  short   p50 ms   p90 ms   p99 ms p99.9 ms   max ms"
        let rows = kinds.map { kind in
            kind.name.padding(toLength: 24, withPad: " ", startingAt: 0)
                + String(format: "%10d %7d %6d ", kind.requests, kind.errors, kind.shortPages)
                + [kind.p50Ms, kind.p90Ms, kind.p99Ms, kind.p999Ms, kind.maxMs].map(f).joined(separator: " ")
        }
        return (["reads of chat \(chat) over \(connections) connection(s), \(String(format: "%.1f", seconds)) s", header] + rows)
            .joined(separator: "\n")
    }
}
