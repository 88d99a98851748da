import Foundation
import Testing
import ChatFlowTestSupport

/// `serve` on a log whose projections are not built yet (here: written by `bench append`,
/// as after a restart that gave projections a new version) answers the API with 503 and
/// `Retry-After` until they have caught up, keeps the operations routes open meanwhile,
/// and then serves the whole history.
@Suite(.timeLimit(.minutes(3))) struct StartupGateTests {
    @Test func theAPIWaitsForProjectionsToCatchUpWithTheLog() async throws {
        let dir = TemporaryDirectory("chatflow-startup-gate")
        defer { dir.remove() }
        let data = dir.appending("data")
        let bench = try ChildProcess(["bench", "append", "--events", "40000", "--producers", "8", "--chats", "8", "--data-dir", data, "--json"])
        #expect(await bench.exitStatus() == 0, "bench append failed")

        let (server, port) = try await Serve.start(dataDirectory: data)
        defer { _ = server.stop(with: SIGTERM) }
        let client = APIClient(port: port, token: try await Serve.token(user: "p0u0-0", dataDirectory: data))
        defer { client.invalidate() }

        // The first request comes while 40,000 events are still being projected.
        let early = try await client.call("GET", "/chats")
        #expect(early.status == 503, "\(early.status) \(early.text.prefix(300))")
        #expect(early.retryAfter == "1")
        #expect(early.text.contains("catching up"))
        #expect(try await client.call("GET", "/healthz").status == 200)
        #expect(try await client.call("GET", "/metrics").status == 200)

        try await Serve.waitReady(port: port)
        let late = try await client.call("GET", "/chats")
        #expect(late.status == 200)
        #expect(late.text.contains("\"chats\":[{"), "the producer's chats are there once caught up: \(late.text.prefix(300))")
    }
}
