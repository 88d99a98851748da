import Foundation
import Testing
import ChatFlowTestSupport

/// `chatflow loadtest` against a real `chatflow serve`: every post is answered 2xx and
/// delivered to every subscribed connection, and the report's figures are consistent.
@Suite(.timeLimit(.minutes(3))) struct LoadtestTests {
    @Test func smallLoadIsFullyDeliveredAndReported() async throws {
        let dir = TemporaryDirectory("chatflow-loadtest")
        defer { dir.remove() }
        let (server, port) = try await Serve.start(dataDirectory: dir.appending("data"))
        defer { _ = server.stop(with: SIGTERM) }

        let (rate, duration, chats, members) = (50.0, 2.0, 2, 3)
        let loadtest = try ChildProcess([
            "loadtest", "--url", "http://127.0.0.1:\(port)", "--jwt-secret", Serve.environment["CHATFLOW_JWT_SECRET"]!,
            "--users", "6", "--chats", "\(chats)", "--members", "\(members)",
            "--rate", "\(rate)", "--duration", "\(duration)", "--json",
        ])
        let status = await loadtest.exitStatus()
        let lines = loadtest.lines.filter { !$0.isEmpty }
        #expect(status == 0, "chatflow loadtest exited \(status): \(lines)")
        #expect(lines.count == 1, "--json should print exactly one line on stdout: \(lines)")
        let report = try #require(
            lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] },
            "no JSON object on stdout: \(lines)")
        func int(_ key: String) -> Int { report[key] as? Int ?? -1 }
        func number(_ key: String) -> Double { (report[key] as? NSNumber)?.doubleValue ?? -1 }

        // Six users, chats of three with no one in both, one connection per user: each
        // message reaches exactly its chat's three members.
        let messages = int("messages")
        #expect(abs(Double(messages) - rate * duration) <= rate * duration * 0.05, "messages \(messages) vs \(rate) × \(duration)")
        #expect(int("errors") == 0, "errors: \(report["errorsByStatus"] ?? "?")")
        #expect(int("posted") == messages)
        #expect(int("missingDeliveries") == 0)
        #expect(int("extraDeliveries") == 0)
        #expect(int("disconnects") == 0)
        #expect(int("expectedDeliveries") == messages * members)
        #expect(int("deliveries") == int("expectedDeliveries"))
        #expect(int("connections") == 6)

        #expect(number("postsPerSecond") > 0 && number("deliveriesPerSecond") > 0)
        for prefix in ["post", "delivery"] {
            let (p50, p99, p999, max) = (number(prefix + "P50Ms"), number(prefix + "P99Ms"), number(prefix + "P999Ms"), number(prefix + "MaxMs"))
            #expect(p50 > 0, "\(prefix) p50 \(p50)")
            #expect(p50 <= p99 && p99 <= p999 && p999 <= max, "\(prefix): p50 \(p50) p99 \(p99) p99.9 \(p999) max \(max)")
        }
        // The server's CPU over the run, read from its /metrics: some, and no more than the
        // machine has.
        let cores = number("serverCores")
        #expect(cores > 0 && cores <= Double(ProcessInfo.processInfo.activeProcessorCount) + 0.5, "server cores \(cores)")
        #expect(number("serverCPUMicrosecondsPerPost") > 0)
    }
}
