import Foundation
import Testing
import ChatFlowTestSupport

/// SIGKILL `chatflow serve` under a load of posts, restart it, and check through the API
/// that every acknowledged post survived exactly once and its idempotency key still holds.
@Suite(.timeLimit(.minutes(3))) struct ServeCrashTests {
    @Test func killedServerLosesNoAcknowledgedPost() async throws {
        let dir = TemporaryDirectory("chatflow-serve-crash")
        defer { dir.remove() }
        let data = dir.appending("data")
        let workers = 8

        var (server, port) = try await Serve.start(dataDirectory: data)
        let token = try await Serve.token(user: "alice", dataDirectory: data)
        let client = APIClient(port: port, token: token)
        let chat = try await Serve.createChat(client, name: "crash")

        let load = PostLoad()
        let loader = Task { await load.run(client, chat: chat, workers: workers, label: "crash") }
        let target = Int.random(in: 50...400)
        let reached = await eventually(timeout: .seconds(90)) { load.ackCount >= target }
        load.expectFailures()
        _ = server.kill()
        load.stop()
        await loader.value
        client.invalidate()
        #expect(reached, "only \(load.ackCount) of \(target) posts were acknowledged before the deadline")
        #expect(load.unexpected.isEmpty, "posts failed before the kill: \(load.unexpected.prefix(5))")
        let acks = load.acks
        #expect(acks.count >= min(target, 50))

        (server, port) = try await Serve.start(dataDirectory: data)
        try await Serve.waitReady(port: port)
        let after = APIClient(port: port, token: token)
        defer { after.invalidate() }
        let messages = try await Serve.allMessages(after, chat: chat)

        var occurrences: [String: Int] = [:]
        for message in messages { occurrences[message.id, default: 0] += 1 }
        let contentByID = Dictionary(messages.map { ($0.id, $0.content) }, uniquingKeysWith: { first, _ in first })
        let missing = acks.filter { occurrences[$0.id] == nil }
        let duplicated = occurrences.filter { $0.value > 1 }
        let wrong = acks.filter { ack in contentByID[ack.id].map { $0 != ack.clientID } ?? false }
        #expect(missing.isEmpty, "\(missing.count) of \(acks.count) acknowledged posts are missing, e.g. \(missing.prefix(5))")
        #expect(duplicated.isEmpty, "messages stored more than once: \(duplicated.prefix(5))")
        #expect(wrong.isEmpty, "acknowledged ids with other content: \(wrong.prefix(5))")
        #expect(Set(messages.map(\.content)).count == messages.count, "a clientMessageId was stored twice")
        // At most one post per worker was in flight, unacknowledged, when the server died.
        #expect(messages.count <= acks.count + workers, "\(messages.count) stored, \(acks.count) acknowledged")
        #expect(messages.allSatisfy { $0.content.hasPrefix("crash-") }, "a message nobody posted")

        // Idempotency survived: re-posting an acknowledged clientMessageId returns its id.
        let sample = Array(acks.suffix(20)) + Array(acks.shuffled().prefix(30))
        for ack in sample {
            let reply = try await after.call("POST", "/chats/\(chat)/messages", json: Serve.postBody(ack.clientID))
            #expect(reply.status == 201 && reply.object["id"] as? String == ack.id,
                    "re-posting \(ack.clientID): \(reply.status) \(reply.text), expected id \(ack.id)")
            #expect(reply.replayed == "true", "re-posting \(ack.clientID) was not marked Idempotent-Replayed")
        }
        #expect(try await Serve.allMessages(after, chat: chat).count == messages.count, "re-posting created messages")

        #expect(server.stop(with: SIGTERM) == 0, "serve did not exit cleanly on SIGTERM")
        let (status, output) = try await Serve.verify(dataDirectory: data)
        #expect(status == 0, "chatflow verify: \(output)")
    }
}
