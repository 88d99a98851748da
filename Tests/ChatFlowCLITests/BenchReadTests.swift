import Foundation
import Testing
import ChatFlowTestSupport

/// `chatflow bench read` against a real `chatflow serve`: every kind of read runs the
/// requests asked for, without errors, and the pages it reports as full are full.
@Suite(.timeLimit(.minutes(3))) struct BenchReadTests {
    @Test func readsEveryKindAndReportsConsistentFigures() async throws {
        let dir = TemporaryDirectory("chatflow-bench-read")
        defer { dir.remove() }
        let data = dir.appending("data")
        let (server, port) = try await Serve.start(dataDirectory: data)
        defer { _ = server.stop(with: SIGTERM) }

        // Every message holds every term the benchmark searches for, so that every search
        // and every newest page fills its page.
        let client = APIClient(port: port, token: try await Serve.token(user: "reader", dataDirectory: data))
        defer { client.invalidate() }
        let chat = try await Serve.createChat(client, name: "history")
        let content = "deploy latency review release server cache query error build merge ticket meeting tomorrow thanks database metrics config branch client restart dashboard customer feedback version"
        for index in 0..<12 {
            let reply = try await client.call("POST", "/chats/\(chat)/messages", json: #"{"content":"\#(content) \#(index)","messageType":"text"}"#)
            #expect(reply.status == 201, "post: \(reply.status) \(reply.text)")
        }

        let (requests, pageSize) = (24, 5)
        let bench = try ChildProcess([
            "bench", "read", "--url", "http://127.0.0.1:\(port)", "--jwt-secret", Serve.environment["CHATFLOW_JWT_SECRET"]!,
            "--user", "reader", "--requests", "\(requests)", "--page-size", "\(pageSize)", "--connections", "2", "--json",
        ])
        let status = await bench.exitStatus()
        let lines = bench.lines.filter { !$0.isEmpty }
        #expect(status == 0, "chatflow bench read exited \(status): \(lines)")
        #expect(lines.count == 1, "--json should print exactly one line on stdout: \(lines)")
        let report = try #require(
            lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] },
            "no JSON object on stdout: \(lines)")
        #expect(report["chat"] as? String == chat, "it should read the user's only chat")
        let kinds = report["kinds"] as? [[String: Any]] ?? []
        #expect(kinds.map { $0["name"] as? String ?? "?" } == [
            "page newest", "page scrolling back", "page at a random time",
            "search one term", "search two terms", "search two terms, page filled", "search prefix",
        ])
        for kind in kinds {
            let name = kind["name"] as? String ?? "?"
            func number(_ key: String) -> Double { (kind[key] as? NSNumber)?.doubleValue ?? -1 }
            #expect(kind["requests"] as? Int == requests, "\(name): \(kind)")
            #expect(kind["errors"] as? Int == 0, "\(name): \(kind)")
            let (p50, p90, p99, max) = (number("p50Ms"), number("p90Ms"), number("p99Ms"), number("maxMs"))
            #expect(p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= max, "\(name): \(kind)")
            // Scrolling reaches the end of the 12 messages and a random moment may fall
            // near the first one: only those may answer short pages.
            if name != "page scrolling back" && name != "page at a random time" {
                #expect(kind["shortPages"] as? Int == 0, "\(name): \(kind)")
                #expect(number("meanItems") == Double(pageSize), "\(name): \(kind)")
            } else {
                #expect(number("meanItems") > 0 && number("meanItems") <= Double(pageSize), "\(name): \(kind)")
            }
        }
        // 12 messages in pages of 5 from the newest: 5, 5, 2, then the newest again.
        let scrolling = kinds.first { $0["name"] as? String == "page scrolling back" }
        #expect(scrolling?["shortPages"] as? Int == requests / 3, "\(String(describing: scrolling))")
    }

    @Test func aUserInNoChatIsToldSo() async throws {
        let dir = TemporaryDirectory("chatflow-bench-read-empty")
        defer { dir.remove() }
        let (server, port) = try await Serve.start(dataDirectory: dir.appending("data"))
        defer { _ = server.stop(with: SIGTERM) }

        let bench = try ChildProcess(
            ["bench", "read", "--url", "http://127.0.0.1:\(port)", "--user", "nobody", "--requests", "3"],
            environment: ["CHATFLOW_JWT_SECRET": Serve.environment["CHATFLOW_JWT_SECRET"]!],
            errorFile: dir.appending("stderr"))
        let status = await bench.exitStatus()
        #expect(status == 2)
        let errors = (try? String(contentsOfFile: dir.appending("stderr"), encoding: .utf8)) ?? ""
        #expect(errors.contains("user 'nobody' is in no chat"), "stderr: \(errors)")
    }
}
