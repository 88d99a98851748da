import Foundation
import Testing
import ChatFlowTestSupport

/// `serve` with `CHATFLOW_LOG_FORMAT=json`: every line is a JSON object, a request's lines
/// carry its id (the `X-Request-Id` it answered with), and tokens and message contents
/// never reach the log, even at the most verbose level.
@Suite(.timeLimit(.minutes(2))) struct LogTests {
    @Test func jsonLinesCarryTheRequestIDAndNeverTokensOrContents() async throws {
        let dir = TemporaryDirectory("chatflow-logs")
        defer { dir.remove() }
        let data = dir.appending("data")
        let logFile = dir.appending("serve.log")
        let (server, port) = try await Serve.start(
            dataDirectory: data, environment: ["CHATFLOW_LOG_FORMAT": "json", "CHATFLOW_LOG_LEVEL": "trace"], errorFile: logFile)
        var stopped = false
        defer { if !stopped { _ = server.kill() } }

        let token = try await Serve.token(user: "alice", dataDirectory: data)
        let client = APIClient(port: port, token: token)
        defer { client.invalidate() }
        let chat = try await Serve.createChat(client, name: "logged")
        let secret = "zebra-quartz-4711"
        let posted = try await client.call("POST", "/chats/\(chat)/messages", json: #"{"content":"\#(secret)","messageType":"text"}"#)
        #expect(posted.status == 201)
        #expect(try await client.call("GET", "/chats/\(chat)/search?query=zebra").status == 200)

        // An operator's backup logs a line in the request's context.
        let minted = try ChildProcess(["token", "--user", "ops", "--admin", "--data-dir", data], environment: Serve.environment)
        #expect(await minted.exitStatus() == 0)
        let adminToken = try #require(minted.lines.last { !$0.isEmpty })
        let admin = APIClient(port: port, token: adminToken)
        defer { admin.invalidate() }
        let backup = try await admin.call("POST", "/admin/backup", json: #"{"to":"\#(dir.appending("backup"))"}"#)
        #expect(backup.status == 201, "\(backup.text)")
        let requestID = try #require(backup.requestID)

        #expect(server.stop(with: SIGTERM) == 0)
        stopped = true
        let lines = try String(contentsOfFile: logFile, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count > 3)
        for line in lines {
            let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            #expect(object?["level"] is String && object?["message"] is String && object?["time"] is String, "not a JSON log line: \(line)")
            #expect(!line.contains(token) && !line.contains(adminToken), "a token was logged: \(line)")
            #expect(!line.contains(secret), "message content was logged: \(line)")
        }
        let backupLine = lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
            .first { $0["message"] as? String == "backup written" }
        #expect(backupLine?["request"] as? String == requestID, "the backup's line does not carry its request id: \(String(describing: backupLine))")
    }
}
