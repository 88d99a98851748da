import ChatFlowCore
import ChatFlowStorage
import ChatFlowTestSupport
import Foundation
import HTTPTypes
import Synchronization
import Testing

/// Live delivery while the server is starting: until the projections hold what the log
/// held at the start, the API answers 503 and subscriptions wait (membership is not known
/// yet); then they are answered and go live.
@Suite(.timeLimit(.minutes(2))) struct LiveStartupTests {
    @Test func aSubscribeSentDuringStartupCatchUpIsAnsweredOnceCaughtUpThenGoesLive() async throws {
        let dir = TemporaryDirectory("chatflow-live-startup")
        defer { dir.remove() }
        let data = dir.appending("data")
        let (chat, history) = try await Self.logOnly(data)
        let channel = "chats/\(chat)"

        let hold = CatchUpHold()
        defer { hold.release() }
        try await TestServer.run(dataDirectory: data, beforeStart: { hold.engage($0.projector) }) { server in
            defer { hold.release() }
            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.send(#"{"op":"subscribe","channel":"\#(channel)"}"#)
            // The socket answers a binary frame itself, in the order frames arrive: once its
            // answer is here, the subscribe before it has been read and handed to the hub.
            try await bob.sendBinary([0])
            #expect(await bob.wait { $0.contains { $0["type"] as? String == "error" && $0["detail"] as? String == "frames are JSON text" } })

            // The gate is still shut after the subscribe was read, and it was not answered.
            let gated = try await server.call(.get, "/chats/\(chat)/messages", as: "bob")
            #expect(gated.status == 503 && gated.headers[.retryAfter] == "1", "\(gated.status) \(gated.text)")
            #expect(try await server.call(.get, "/readyz", as: nil).status == 503)
            #expect(!server.engine.projector.hasReachedStart)
            #expect(!bob.frames.contains { $0["channel"] as? String == channel }, "answered during catch-up: \(bob.frames)")

            hold.release()
            #expect(await bob.wait { $0.contains { $0["type"] as? String == "subscribed" && $0["channel"] as? String == channel } })
            #expect(server.engine.projector.hasReachedStart, "subscribed before the projections caught up")
            #expect(try await server.call(.get, "/chats/\(chat)/messages", as: "bob").status == 200)

            let live = try await server.post(chat, as: "alice", "after catch-up")
            #expect(await bob.wait { _ in bob.events(on: channel).contains { ($0["event"] as? [String: Any])?["messageId"] as? String == live } })
            // The history the log held at the start is not handed out as live events.
            let messages = bob.events(on: channel).compactMap { ($0["event"] as? [String: Any])?["messageId"] as? String }
            #expect(messages == [live], "history \(history) came live: \(messages)")
            let onChannel = bob.frames.filter { $0["channel"] as? String == channel }.compactMap { $0["type"] as? String }
            #expect(onChannel == ["subscribed", "event"], "\(onChannel)")
            await bob.close()
        }
    }

    /// A metrics scrape answers while the projector is busy (here: held, as retention holds
    /// it while it prunes): the checkpoints it reports are those of the last batch.
    @Test func metricsAnswerWhileTheProjectorIsBusy() async throws {
        let dir = TemporaryDirectory("chatflow-metrics-busy")
        defer { dir.remove() }
        let data = dir.appending("data")
        _ = try await Self.logOnly(data)
        let hold = CatchUpHold()
        defer { hold.release() }
        try await TestServer.run(dataDirectory: data, beforeStart: { hold.engage($0.projector) }) { server in
            defer { hold.release() }
            let status = Mutex<Int?>(nil)
            let scrape = Task { let reply = try await server.call(.get, "/metrics", as: nil); status.withLock { $0 = reply.status } }
            let answered = await eventually(timeout: .seconds(10)) { status.withLock { $0 } != nil }
            hold.release()
            try await scrape.value
            #expect(answered, "/metrics waited for the projector")
            #expect(status.withLock { $0 } == 200)
        }
    }

    /// A new data directory whose log holds a public chat of alice's that bob joined and a
    /// message in it, none of it projected yet (as after an upgrade that gave every
    /// projection a new version): the chat's id and the message's.
    private static func logOnly(_ path: String) async throws -> (chat: String, message: String) {
        let engine = try ChatFlowEngine(dataDirectory: path)
        defer { engine.close() }
        func append(_ actor: String, _ event: ChangeEvent) async throws -> ULID {
            try await engine.log.append(EventCodec.encode(EventEnvelope(actor: UserID(unchecked: actor), event: event))).ids[0]
        }
        let chat = ChatID(try await append("alice", .chatCreated(.init(name: "general", description: "", isPrivate: false))))
        _ = try await append("bob", .memberJoined(.init(chat: chat, user: UserID(unchecked: "bob"), role: .member)))
        let message = try await append("alice", .messagePosted(.init(chat: chat, content: "before the restart", type: .text)))
        return ("\(chat)", "\(message)")
    }
}
