import ArgumentParser
import Foundation

/// `chatflow loadtest`: end-to-end load through HTTP and WebSocket against a running server.
struct LoadtestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Post messages over HTTP at a fixed rate and measure their delivery over WebSocket.",
        discussion: """
        Mints its users' tokens with the server's secret, creates the chats and memberships, \
        opens the WebSocket connections (each subscribed to its user's chats), then posts open \
        loop: every post is sent at its scheduled time whether or not earlier ones were \
        answered, and latencies count from that time. Reports post and delivery rates, latency \
        percentiles, errors by status and deliveries still missing after the drain wait. \
        Progress goes to stderr once a second; the summary (or with --json one JSON object) to \
        stdout. Exits 1 if any post failed, any delivery is missing or a WebSocket was dropped; \
        2 if the load could not be set up (the server unreachable or refusing the setup).

        Rate limits: run the server with CHATFLOW_RATE_LIMIT=0, or keep --rate under the \
        server's per-user limit (default 20/s) times the users that post: posts are spread \
        evenly over every user in a chat. Each WebSocket upgrade and each subscribe counts \
        as a read (CHATFLOW_READ_RATE_LIMIT, default 50/s with a burst of 200 per user).

        Many connections: the soft open-file limit is raised to the hard limit (the server \
        needs as many descriptors too). Against a loopback server, WebSocket connections are \
        spread over source addresses 127.0.0.1, 127.0.0.2, … (one per \
        \(LoadTarget.connectionsPerSourceAddress) connections), each with its own ephemeral ports.
        """
    )

    @OptionGroup var server: LoadServerOptions

    @Option(help: "Users taking part.")
    var users = 100

    @Option(help: "Chats the messages are spread over.")
    var chats = 10

    @Option(help: "Members of each chat.")
    var members = 10

    @Option(help: "Posts per second, all users together.")
    var rate = 200.0

    @Option(help: "How long to post, e.g. 10, 90s or 2m.")
    var duration = "10"

    @Option(help: "WebSocket connections (default: one per user); connection k signs in as user k mod users. The server allows CHATFLOW_WS_PER_USER (32) per user.")
    var connections: Int?

    @Option(help: "Keep-alive HTTP/1.1 connections the posts are sent over.")
    var httpConnections = 32

    @Option(help: "Approximate message length in bytes.")
    var contentBytes = 64

    @Option(help: "Loopback source addresses for the WebSocket connections (default: one per \(LoadTarget.connectionsPerSourceAddress) connections).")
    var sourceAddresses: Int?

    @Option(help: "Longest wait, after the last post is answered, for deliveries still due (seconds).")
    var drainSeconds = 10.0

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard users > 0 else { throw ValidationError("--users must be positive") }
        guard chats > 0 else { throw ValidationError("--chats must be positive") }
        guard members > 0 && members <= users else { throw ValidationError("--members must be 1 to --users") }
        guard rate > 0 && rate.isFinite else { throw ValidationError("--rate must be positive") }
        guard let seconds = TokenCommand.seconds(duration), seconds > 0 else {
            throw ValidationError("--duration must be a positive duration such as 10, 90s or 2m")
        }
        guard rate * seconds <= 50_000_000 else { throw ValidationError("--rate × --duration must be at most 50,000,000 messages") }
        if let connections { guard connections > 0 else { throw ValidationError("--connections must be positive") } }
        guard httpConnections > 0 else { throw ValidationError("--http-connections must be positive") }
        guard contentBytes > 0 && contentBytes <= 4000 else { throw ValidationError("--content-bytes must be 1–4000") }
        if let sourceAddresses { guard (1...254).contains(sourceAddresses) else { throw ValidationError("--source-addresses must be 1–254") } }
        guard drainSeconds >= 0 else { throw ValidationError("--drain-seconds must not be negative") }
    }

    func run() async throws {
        let target = try server.target()
        let signer = try await server.signer()
        let connectionCount = connections ?? users

        // Each WebSocket and HTTP connection is a descriptor, plus a margin for the runtime.
        let descriptors = FileDescriptorLimit.raise()
        let needed = connectionCount + httpConnections + 64
        guard needed <= descriptors else {
            throw ValidationError("\(connectionCount) connections need about \(needed) open files but the limit is \(descriptors); raise it (ulimit -n) or use fewer --connections")
        }

        let settings = LoadGenerator.Settings(
            url: server.url, target: target, signer: signer,
            users: users, chats: chats, members: members, connections: connectionCount, httpConnections: httpConnections,
            rate: rate, duration: TokenCommand.seconds(duration)!, contentBytes: contentBytes,
            sourceAddresses: sourceAddresses, drainSeconds: drainSeconds)
        let report: LoadReport
        do {
            report = try await LoadGenerator(settings: settings) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }.run()
        } catch let error as LoadError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        print(json ? try report.jsonLine() : report.table())
        if report.failed { throw ExitCode(1) }
    }
}
