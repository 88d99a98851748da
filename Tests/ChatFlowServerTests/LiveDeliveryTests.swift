@testable import ChatFlowServer
import ChatFlowCore
import ChatFlowStorage
import ChatFlowTestSupport
import Foundation
import HTTPTypes
import Synchronization
import Testing

/// Live delivery over real WebSocket connections.
@Suite(.timeLimit(.minutes(2))) struct LiveDeliveryTests {
    @Test func membersReceiveEachOthersChangesInOrder() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let alice = try await LiveClient.connect(server, as: "alice")
            let bob = try await LiveClient.connect(server, as: "bob")
            try await alice.subscribe("chats/\(chat)")
            try await bob.subscribe("chats/\(chat)")

            let m1 = try await server.post(chat, as: "alice", "from alice")
            let m2 = try await server.post(chat, as: "bob", "from bob")
            _ = try await server.call(.patch, "/messages/\(m1)", as: "alice", json: #"{"content":"edited"}"#)
            _ = try await server.call(.post, "/messages/\(m2)/reactions", as: "alice", json: #"{"emoji":"🎉"}"#)
            _ = try await server.call(.delete, "/messages/\(m2)", as: "bob")
            // The owner deletes bob's other message: the event says who deleted it.
            let m3 = try await server.post(chat, as: "bob", "also from bob")
            _ = try await server.call(.delete, "/messages/\(m3)", as: "alice")
            let kinds = ["message.created", "message.created", "message.edited", "reaction.added", "message.deleted", "message.created", "message.deleted"]
            for client in [alice, bob] {
                #expect(await client.wait { _ in client.events(on: "chats/\(chat)").count >= kinds.count })
                let events = client.events(on: "chats/\(chat)")
                let deletions = events.compactMap { $0["event"] as? [String: Any] }.filter { $0["kind"] as? String == "message.deleted" }
                #expect(deletions.map { $0["by"] as? String } == ["bob", "alice"], "\(deletions)")
                #expect(events.compactMap { ($0["event"] as? [String: Any])?["kind"] as? String } == kinds)
                let ids = events.compactMap { $0["id"] as? String }
                #expect(ids == ids.sorted() && Set(ids).count == ids.count)
                #expect(((events[0]["event"] as? [String: Any])?["message"] as? [String: Any])?["content"] as? String == "from alice")
            }
            await alice.close()
            await bob.close()
        }
    }

    @Test func resumingWithSinceGetsExactlyTheMissedEventsThenLiveOnes() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let first = try await LiveClient.connect(server, as: "bob")
            try await first.subscribe("chats/\(chat)")
            _ = try await server.post(chat, as: "alice", "seen-1")
            #expect(await first.wait { _ in first.events(on: "chats/\(chat)").count == 1 })
            let lastSeen = try #require(first.events(on: "chats/\(chat)").last?["id"] as? String)
            await first.close()

            var missed: [String] = []
            for i in 0..<20 { missed.append(try await server.post(chat, as: "alice", "missed-\(i)")) }

            let again = try await LiveClient.connect(server, as: "bob")
            // Posts keep flowing while the client resubscribes: none may be lost or doubled.
            let writer = Task {
                var ids: [String] = []
                for i in 0..<20 { ids.append(try await server.post(chat, as: "alice", "live-\(i)")) }
                return ids
            }
            try await again.subscribe("chats/\(chat)", since: lastSeen)
            let live = try await writer.value
            let expected = missed + live
            #expect(await again.wait { _ in again.events(on: "chats/\(chat)").count >= expected.count })
            let got = again.events(on: "chats/\(chat)").compactMap { ($0["event"] as? [String: Any])?["messageId"] as? String }
            #expect(got == expected)
            #expect(again.frames.first { $0["type"] as? String == "subscribed" }?["recovered"] as? Bool == true)
            // The replay is counted while it runs; once over (its last frames may arrive a
            // moment before it is), the gauges are back at zero.
            var metrics = ""
            let deadline = ContinuousClock.now + .seconds(10)
            repeat {
                metrics = try await server.call(.get, "/metrics", as: nil).text
            } while !(metrics.contains("chatflow_websocket_replays_running 0") && metrics.contains("chatflow_websocket_replays_waiting 0"))
                && ContinuousClock.now < deadline
            #expect(metrics.contains("chatflow_websocket_replays_running 0") && metrics.contains("chatflow_websocket_replays_waiting 0"), "\(metrics)")
            await again.close()
        }
    }

    /// A resume with `since` while several writers keep posting: the replay from the log
    /// and the live frames applied meanwhile (held back, then handed over) meet with no gap
    /// and no repeat, so the client sees each of the chat's events once, in log order.
    @Test func aResumeUnderConcurrentPostsHandsOverFromReplayToLiveWithoutGapOrRepeat() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let channel = "chats/\(chat)"
            let since = try await server.post(chat, as: "alice", "seen")
            // A backlog long enough that the replay is still reading it while posts go on.
            let backlog = 1000
            try await Self.appendMessages(server, chat, count: backlog)

            let bob = try await LiveClient.connect(server, as: "bob")
            let stop = StopFlag()
            // Writers post from before the subscribe until bob has had the backlog and then
            // live posts, so their posts span the replay and the hand-over.
            let writers = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for writer in 0..<4 {
                        group.addTask {
                            for n in 0..<2000 where !stop.isSet {
                                _ = try await server.post(chat, as: "alice", "live-\(writer)-\(n)")
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            try await bob.subscribe(channel, since: since)
            let handedOver = await bob.wait(timeout: .seconds(60)) { _ in bob.events(on: channel).count >= backlog + 40 }
            stop.set()
            try await writers.value
            #expect(handedOver, "\(bob.events(on: channel).count) events")

            // Every post is acknowledged, so the log says what bob must have had.
            let expected = try Self.eventIDs(of: chat, after: since, in: server.engine)
            #expect(expected.count >= backlog + 40)
            #expect(await bob.wait { _ in bob.events(on: channel).count >= expected.count })
            let got = bob.events(on: channel).compactMap { $0["id"] as? String }
            let firstDifference = got.indices.first { $0 >= expected.count || got[$0] != expected[$0] }
            #expect(got == expected, "\(got.count) events for \(expected.count); first difference at \(firstDifference.map(String.init) ?? "the end")")
            #expect(bob.frames.first { $0["type"] as? String == "subscribed" }?["recovered"] as? Bool == true)
            await bob.close()
        }
    }

    /// Appends `count` messages of alice's to the chat straight to the log, many at once (so
    /// in few group commits), and waits until the projections have applied them.
    private static func appendMessages(_ server: TestServer, _ chat: String, count: Int) async throws {
        let chatID = try ChatID(parsing: chat)
        let payloads = (0..<count).map { n in
            EventCodec.encode(EventEnvelope(actor: UserID(unchecked: "alice"), event: .messagePosted(.init(chat: chatID, content: "missed-\(n)", type: .text))))
        }
        let last = try await withThrowingTaskGroup(of: ULID.self) { group in
            for payload in payloads { group.addTask { try await server.engine.log.append(payload).ids[0] } }
            return try await group.reduce(ULID.zero) { max($0, $1) }
        }
        try await server.engine.projector.waitUntilApplied(last)
    }

    /// The ids of the chat's events after `since`, in log order, read from the log.
    private static func eventIDs(of chat: String, after since: String, in engine: ChatFlowEngine) throws -> [String] {
        let chatID = try ChatID(parsing: chat)
        var ids: [String] = []
        var cursor = ULID(since)
        while true {
            let records = try engine.log.read(after: cursor, limit: 1024)
            guard let last = records.last else { return ids }
            for record in records {
                if try EventCodec.decode(record.payload).event.chat == chatID { ids.append(record.id.description) }
            }
            cursor = last.id
        }
    }

    @Test func aSlowClientIsClosedWithACloseFrameWhileOthersKeepReceiving() async throws {
        try await TestServer.run(configure: {
            $0.webSocketQueueLimit = 8
            $0.webSocketCloseGraceSeconds = 60
        }) { server in
            let (chat, bob) = try await Self.chatWithListener(server, members: ["slow"])
            // "slow" stops reading, is closed, then reads again and finds the close frame
            // behind everything that was queued before it.
            let slow = try await StalledClient.connect(server, as: "slow", subscribingTo: chat)
            let posted = try await Self.postUntil(server, chat) { $0.contains("chatflow_websocket_slow_client_closes_total 1") }
            let closeCode = try await slow.readUntilClosed()
            #expect(closeCode == 4008, "\(slow.framesRead) frames, then \(slow.ending)")
            #expect(await bob.wait(timeout: .seconds(60)) { _ in bob.events(on: "chats/\(chat)").count == posted })
            await bob.close()
        }
    }

    @Test func aClientThatNeverReadsAgainIsDropped() async throws {
        try await TestServer.run(configure: {
            $0.webSocketQueueLimit = 8
            $0.webSocketCloseGraceSeconds = 1
        }) { server in
            let (chat, bob) = try await Self.chatWithListener(server, members: ["stuck"])
            let stuck = try await StalledClient.connect(server, as: "stuck", subscribingTo: chat)
            let posted = try await Self.postUntil(server, chat) { $0.contains("chatflow_websocket_slow_client_closes_total 1") }
            // Its close frame can never be written; the connection goes after the grace period.
            #expect(try await eventually(timeout: .seconds(30)) {
                try await server.call(.get, "/metrics", as: nil).text.contains("chatflow_websocket_connections 1")
            })
            let all = await bob.wait(timeout: .seconds(60)) { _ in bob.events(on: "chats/\(chat)").count == posted }
            let bobClosed = await bob.closed(timeout: .zero)
            #expect(all, "\(bob.events(on: "chats/\(chat)").count) of \(posted); bob closed: \(String(describing: bobClosed))")
            withExtendedLifetime(stuck) {}
            await bob.close()
        }
    }

    /// A public chat of alice's with `members`, and bob listening to it.
    private static func chatWithListener(_ server: TestServer, members: [String]) async throws -> (String, LiveClient) {
        let chat = try await server.createChat("alice")
        for user in ["bob"] + members { try await server.join(chat, as: user) }
        let bob = try await LiveClient.connect(server, as: "bob")
        try await bob.subscribe("chats/\(chat)")
        return (chat, bob)
    }

    /// Posts large messages until `/metrics` satisfies `done` (the kernel buffers in front of
    /// a client that stopped reading take a few MB before the server's queue grows); returns
    /// how many were posted. Ten at a time, so a loaded machine still fills them quickly.
    private static func postUntil(
        _ server: TestServer, _ chat: String, content: String = String(repeating: "x", count: 3900), _ done: (String) -> Bool
    ) async throws -> Int {
        var posted = 0
        while try await !done(server.call(.get, "/metrics", as: nil).text) {
            try #require(posted < 5000, "the client that stopped reading was never closed")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in posted..<(posted + 10) {
                    group.addTask { _ = try await server.post(chat, as: "alice", "\(n) \(content)") }
                }
                try await group.waitForAll()
            }
            posted += 10
        }
        return posted
    }

    /// The queue is bounded in bytes as well as in frames: counted in frames alone, a client
    /// that stopped reading held a thousand of the largest messages (60 MB each time) before
    /// it was closed.
    @Test func aSlowClientsQueueIsBoundedInBytes() async throws {
        try await TestServer.run(configure: {
            $0.webSocketQueueLimit = 1024
            $0.webSocketQueueBytes = 256 * 1024
            $0.webSocketCloseGraceSeconds = 1
        }) { server in
            let (chat, bob) = try await Self.chatWithListener(server, members: ["stuck"])
            let stuck = try await StalledClient.connect(server, as: "stuck", subscribingTo: chat)
            // 12 KB frames (under the test client's largest frame): the kernel buffers in
            // front of the client take a few hundred.
            let posted = try await Self.postUntil(server, chat, content: String(repeating: "😀", count: 3000)) {
                $0.contains("chatflow_websocket_slow_client_closes_total 1")
            }
            #expect(posted < 1024, "closed only after \(posted) large messages")
            let all = await bob.wait(timeout: .seconds(60)) { _ in bob.events(on: "chats/\(chat)").count == posted }
            let bobClosed = await bob.closed(timeout: .zero)
            #expect(all, "\(bob.events(on: "chats/\(chat)").count) of \(posted); bob closed: \(String(describing: bobClosed))")
            withExtendedLifetime(stuck) {}
            await bob.close()
        }
    }

    /// All connections together are bounded too: with many clients that stop reading at
    /// once, each below its own limit, the server closes those holding their share once the
    /// whole budget is spent (without it, each kept its own 1 MiB), and a client that reads
    /// loses nothing.
    @Test func slowClientsTogetherAreBoundedByTheBudget() async throws {
        try await TestServer.run(configure: {
            $0.webSocketQueueBytes = 1 << 20
            $0.webSocketQueueTotalBytes = 192 * 1024
            $0.webSocketCloseGraceSeconds = 60
        }) { server in
            let (chat, bob) = try await Self.chatWithListener(server, members: ["stuck1", "stuck2"])
            let stuck = [try await StalledClient.connect(server, as: "stuck1", subscribingTo: chat),
                         try await StalledClient.connect(server, as: "stuck2", subscribingTo: chat)]
            var metrics = ""
            let posted = try await Self.postUntil(server, chat, content: String(repeating: "😀", count: 3000)) {
                metrics = $0
                return $0.contains("chatflow_websocket_slow_client_closes_total 1") || $0.contains("chatflow_websocket_slow_client_closes_total 2")
            }
            // A closed client's frames stay counted until its grace period (60 s) runs out.
            let queued = metrics.split(separator: "\n").first { $0.hasPrefix("chatflow_websocket_queued_bytes ") }
                .flatMap { Double($0.split(separator: " ")[1]) } ?? -1
            #expect(queued >= 0 && queued < 512 * 1024, "\(queued) bytes queued after \(posted) posts")
            let all = await bob.wait(timeout: .seconds(60)) { _ in bob.events(on: "chats/\(chat)").count == posted }
            #expect(all, "\(bob.events(on: "chats/\(chat)").count) of \(posted)")
            withExtendedLifetime(stuck) {}
            await bob.close()
        }
    }

    /// A replay goes at the client's pace: one that has not read for a while, then reads,
    /// gets far more than its queue holds, every event once and in order, and meanwhile the
    /// server keeps no more than the replay's window for it (the replay wrote ahead of it,
    /// until it was closed as too slow, however steadily it read). While it waits for its
    /// client, another user's replay goes first (a stalled reader held the only turn until
    /// it was closed). On a chat's channel (a replay of the chat's index) and on the
    /// notifications channel (a replay of the log).
    @Test(arguments: [true, false])
    func aReplayGoesAtItsClientsPaceAndLetsOthersGoFirst(chatChannel: Bool) async throws {
        try await TestServer.run(configure: {
            $0.webSocketQueueBytes = 1 << 20
            $0.webSocketCloseGraceSeconds = 60
        }, replayGate: ReplayGate(limit: 1)) { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            try await server.join(chat, as: "carol")
            let since = try await server.post(chat, as: "alice", "before")
            let content = String(repeating: "😀", count: 3990)
            var ids: [String] = []
            for start in stride(from: 0, to: 800, by: 10) {
                ids += try await withThrowingTaskGroup(of: (Int, String).self) { group in
                    for n in start..<(start + 10) { group.addTask { (n, try await server.post(chat, as: "alice", "\(n) \(content)")) } }
                    return try await group.reduce(into: []) { $0.append($1) }.sorted { $0.0 < $1.0 }.map(\.1)
                }
            }
            ids.sort()
            // Small, for the test client, whose frames are at most 16 KiB.
            ids.append(try await server.post(chat, as: "alice", "the end"))
            let channel = chatChannel ? "chats/\(chat)" : "users/me/notifications"
            let client = try await StalledClient.connect(
                port: server.port, token: try await server.token("bob"),
                frames: [#"{"op":"subscribe","channel":"\#(channel)","since":"\#(since)"}"#])
            // Not reading: the replay fills the kernel's buffers, then its window, and waits.
            func queuedBytes() async throws -> Int {
                let text = try await server.call(.get, "/metrics", as: nil).text
                return text.split(separator: "\n").first { $0.hasPrefix("chatflow_websocket_queued_bytes ") }
                    .flatMap { Double($0.split(separator: " ")[1]) }.map { Int($0) } ?? 0
            }
            #expect(try await eventually(timeout: .seconds(60)) { try await queuedBytes() >= 128 * 1024 })
            #expect(try await queuedBytes() <= 256 * 1024 + 2 * 16 * 1024)
            // Carol, one event behind, is not kept waiting for bob to read (60 s until he
            // would be closed).
            let carol = try await LiveClient.connect(server, as: "carol")
            try await carol.send(#"{"op":"subscribe","channel":"\#(channel)","since":"\#(ids[ids.count - 2])"}"#)
            #expect(await carol.wait(timeout: .seconds(20)) { _ in carol.events(on: channel).contains { $0["id"] as? String == ids.last } })
            await carol.close()
            var received: [String] = []
            while received.count < ids.count {
                guard let (opcode, payload) = try await client.readFrame() else { break }
                if opcode == 0x8 {
                    Issue.record("closed after \(received.count) events: \(payload.prefix(2).reduce(0) { $0 << 8 | Int($1) })")
                    break
                }
                guard opcode == 0x1, let frame = try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any],
                      frame["type"] as? String == "event", let id = frame["id"] as? String else { continue }
                received.append(id)
            }
            let inOrder = received == ids
            #expect(inOrder, "\(received.count) of \(ids.count) events, in order: \(inOrder)")
        }
    }

    @Test func aRemovedMemberStopsReceivingAtOnce() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice", isPrivate: true)
            try await server.add("bob", to: chat, by: "alice")
            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("chats/\(chat)")
            _ = try await server.post(chat, as: "alice", "before")
            #expect(try await server.call(.delete, "/chats/\(chat)/members/bob", as: "alice").status == 204)
            _ = try await server.post(chat, as: "alice", "after")
            let marker = try await LiveClient.connect(server, as: "alice")
            try await marker.subscribe("chats/\(chat)")
            _ = try await server.post(chat, as: "alice", "flush")
            #expect(await marker.wait { _ in marker.events(on: "chats/\(chat)").count == 1 })
            let kinds = bob.events(on: "chats/\(chat)").compactMap { ($0["event"] as? [String: Any])?["kind"] as? String }
            #expect(kinds == ["message.created", "member.left"])
            await bob.close()
            await marker.close()
        }
    }

    /// A member removed from a private chat while their resume waits for its replay hears
    /// what came before their leaving, the leaving itself, then `unsubscribed` once, and
    /// nothing posted after it, whichever of the hub and the replay meets the leaving first;
    /// also when more came than could be held for them (a queue of one), so the leaving
    /// itself was dropped and the replay reads it from the log.
    @Test(arguments: [1024, 1])
    func aMemberRemovedDuringTheirReplayHearsUpToTheirLeavingAndNothingAfter(queueLimit: Int) async throws {
        let gate = ReplayGate(limit: 1)
        let holder = UserID(unchecked: "holder")
        try await TestServer.run(configure: { $0.webSocketQueueLimit = queueLimit }, replayGate: gate) { server in
            let chat = try await server.createChat("alice", isPrivate: true)
            try await server.add("bob", to: chat, by: "alice")
            let seen = try await server.post(chat, as: "alice", "seen")
            let watcher = try await LiveClient.connect(server, as: "alice")
            try await watcher.subscribe("chats/\(chat)")
            // Every replay waits while the gate's one place is held here.
            await gate.enter(holder)
            let bob = try await LiveClient.connect(server, as: "bob")
            try await Self.subscribe(bob, "chats/\(chat)", since: seen, behind: gate)
            let missed = try await server.post(chat, as: "alice", "missed")
            #expect(try await server.call(.delete, "/chats/\(chat)/members/bob", as: "alice").status == 204)
            let secret = try await server.post(chat, as: "alice", "secret")
            // Once alice hears of the message after it, the hub has handled bob's leaving.
            func messageIDs(_ client: LiveClient) -> [String] {
                client.events(on: "chats/\(chat)").compactMap { ($0["event"] as? [String: Any])?["messageId"] as? String }
            }
            #expect(await watcher.wait { _ in messageIDs(watcher).contains(secret) })
            gate.leave(holder)

            #expect(await bob.wait { frames in frames.contains { $0["type"] as? String == "unsubscribed" } })
            // Whatever else came, came before the answer to this ping.
            #expect(try await bob.roundTrip())
            #expect(bob.eventKinds(on: "chats/\(chat)") == ["message.created", "member.left"], "\(bob.frames)")
            #expect(messageIDs(bob) == [missed])
            #expect(bob.frames.filter { $0["type"] as? String == "unsubscribed" }.count == 1, "\(bob.frames)")
            await bob.close()
            await watcher.close()
        }
    }

    /// While a resume waits for its replay, a busy chat's live frames are held for it, up to
    /// the queue limit; past it none is held, and the replay reads them from the log before
    /// going live: the client gets each once, in order, and is not closed.
    @Test func framesHeldForAWaitingReplayAreBoundedAndTheRestIsReadFromTheLog() async throws {
        let gate = ReplayGate(limit: 1)
        let holder = UserID(unchecked: "holder")
        try await TestServer.run(configure: { $0.webSocketQueueLimit = 5 }, replayGate: gate) { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let channel = "chats/\(chat)"
            let seen = try await server.post(chat, as: "alice", "seen")
            let watcher = try await LiveClient.connect(server, as: "alice")
            try await watcher.subscribe(channel)
            await gate.enter(holder)
            let bob = try await LiveClient.connect(server, as: "bob")
            try await Self.subscribe(bob, channel, since: seen, behind: gate)
            var posted: [String] = []
            for index in 0..<8 { posted.append(try await server.post(chat, as: "alice", "busy \(index)")) }
            // The hub hands each event to bob's held frames before the watcher's socket gets
            // it: once the watcher has all eight, more came than bob's subscription holds.
            #expect(await watcher.wait { _ in watcher.events(on: channel).count == posted.count })
            gate.leave(holder)

            #expect(await bob.wait { _ in bob.events(on: channel).count >= posted.count })
            // Whatever else came, came before the answer to this ping.
            #expect(try await bob.roundTrip())
            let got = bob.events(on: channel).compactMap { ($0["event"] as? [String: Any])?["messageId"] as? String }
            #expect(got == posted)
            let metrics = try await server.call(.get, "/metrics", as: nil).text
            #expect(metrics.contains("chatflow_websocket_replay_catch_ups_total 1"), "\(metrics)")
            #expect(metrics.contains("chatflow_websocket_slow_client_closes_total 0"), "\(metrics)")
            await bob.close()
            await watcher.close()
        }
    }

    /// Typing is of the moment: one sent while a resume waits for its replay is not held
    /// for it and delivered stale afterwards; the events are.
    @Test func typingIsNotHeldForAWaitingReplay() async throws {
        let gate = ReplayGate(limit: 1)
        let holder = UserID(unchecked: "holder")
        try await TestServer.run(replayGate: gate) { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let seen = try await server.post(chat, as: "alice", "seen")
            let alice = try await LiveClient.connect(server, as: "alice")
            try await alice.subscribe("chats/\(chat)")
            await gate.enter(holder)
            let bob = try await LiveClient.connect(server, as: "bob")
            try await Self.subscribe(bob, "chats/\(chat)", since: seen, behind: gate)
            try await alice.send(#"{"op":"typing","chatId":"\#(chat)"}"#)
            // Alice's operations are handled in order: after the pong, her typing has been passed on.
            #expect(try await alice.roundTrip())
            let after = try await server.post(chat, as: "alice", "after")
            gate.leave(holder)
            #expect(await bob.wait { _ in bob.events(on: "chats/\(chat)").contains { ($0["event"] as? [String: Any])?["messageId"] as? String == after } })
            #expect(try await bob.roundTrip())
            #expect(bob.eventKinds(on: "chats/\(chat)") == ["message.created"], "\(bob.frames)")
        }
    }

    /// A socket whose requests wait (here behind a held replay) stops being read; its pongs
    /// cannot be read either, so the server's pings do not judge it dead meanwhile. Once the
    /// replay runs, every request is answered.
    @Test func aSocketPausedBehindItsRequestsIsNotTakenForDead() async throws {
        let gate = ReplayGate(limit: 1)
        let holder = UserID(unchecked: "holder")
        try await TestServer.run(configure: { $0.webSocketPingSeconds = 1 }, replayGate: gate) { server in
            let chat = try await server.createChat("alice")
            let seen = try await server.post(chat, as: "alice", "seen")
            await gate.enter(holder)
            let alice = try await LiveClient.connect(server, as: "alice")
            let requests = 70
            for _ in 0..<requests {
                try await alice.send(#"{"op":"subscribe","channel":"chats/\#(chat)","since":"\#(seen)"}"#)
            }
            // Three ping intervals: a socket whose pings went unanswered twice would be closed.
            #expect(await alice.closed(timeout: .seconds(3)) == nil, "the paused socket was closed")
            gate.leave(holder)
            #expect(await alice.wait { frames in frames.count { $0["type"] as? String == "subscribed" } == requests })
            #expect(try await alice.roundTrip())
            await alice.close()
        }
    }

    /// Replays whose clients have stopped reading wait for them out of the turns: a crowd
    /// of them does not hold back another user's replay, round after round, until each is
    /// closed (they took a turn each, every round, and delayed a reader's catching up for a
    /// minute). While they still wait for their clients, no replay is running or waiting.
    @Test func stalledReplaysWaitForTheirClientsOutOfTheTurns() async throws {
        try await TestServer.run(configure: {
            $0.webSocketCloseGraceSeconds = 60
        }, replayGate: ReplayGate(limit: 1)) { server in
            let chat = try await server.createChat("alice")
            let stalledUsers = (0..<6).map { "stalled\($0)" }
            for user in stalledUsers + ["carol"] { try await server.join(chat, as: user) }
            let since = try await server.post(chat, as: "alice", "before")
            let content = String(repeating: "😀", count: 3000)
            for start in stride(from: 0, to: 600, by: 10) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for n in start..<(start + 10) { group.addTask { _ = try await server.post(chat, as: "alice", "\(n) \(content)") } }
                    try await group.waitForAll()
                }
            }
            let last = try await server.post(chat, as: "alice", "the end")
            var stalled: [StalledClient] = []
            for user in stalledUsers {
                stalled.append(try await StalledClient.connect(
                    port: server.port, token: try await server.token(user),
                    frames: [#"{"op":"subscribe","channel":"chats/\#(chat)","since":"\#(since)"}"#]))
            }
            let carol = try await LiveClient.connect(server, as: "carol")
            try await carol.subscribe("chats/\(chat)", since: since)
            #expect(await carol.wait(timeout: .seconds(60)) { _ in carol.events(on: "chats/\(chat)").contains { $0["id"] as? String == last } },
                    "\(carol.events(on: "chats/\(chat)").count) events; \(carol.frames.filter { $0["type"] as? String != "event" })")
            func gauge(_ name: String) async throws -> Double {
                let text = try await server.call(.get, "/metrics", as: nil).text
                return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) } ?? -1
            }
            let settled = try await eventually(timeout: .seconds(30)) {
                let running = try await gauge("chatflow_websocket_replays_running")
                let waiting = try await gauge("chatflow_websocket_replays_waiting")
                return running == 0 && waiting == 0
            }
            #expect(settled, "stalled replays still take turns")
            // They did stall: each holds frames its client has not taken.
            let queued = try await gauge("chatflow_websocket_queued_bytes")
            #expect(queued >= Double(stalledUsers.count * 64 * 1024), "\(queued) bytes queued")
            let closes = try await gauge("chatflow_websocket_slow_client_closes_total")
            #expect(closes == 0, "closed before their grace period ran out")
            withExtendedLifetime(stalled) {}
            await carol.close()
        }
    }

    /// A long replay lets another user's waiting replay go first after a page of the log,
    /// and goes on where it stopped: each gets every event once, in order. A member one
    /// event behind waited for all of another's replay of a busy chat.
    @Test func aLongReplayTakesTurnsWithOthers() async throws {
        let gate = ReplayGate(limit: 1)
        let holder = UserID(unchecked: "holder")
        try await TestServer.run(replayGate: gate) { server in
            let busy = try await server.createChat("alice")
            try await server.join(busy, as: "bob")
            let quiet = try await server.createChat("carol")
            let bobSeen = try await server.post(busy, as: "alice", "seen")
            let carolSeen = try await server.post(quiet, as: "carol", "seen")
            // Three pages of the log for bob; one event for carol.
            var posted: [String] = []
            for index in 0..<2_100 {
                posted.append(try await server.call(.post, "/chats/\(busy)/messages", as: "alice",
                                                    json: #"{"content":"busy \#(index)","messageType":"text"}"#).string("id") ?? "")
            }
            let carolMissed = try await server.post(quiet, as: "carol", "missed")
            await gate.enter(holder)
            let bob = try await LiveClient.connect(server, as: "bob")
            try await Self.subscribe(bob, "chats/\(busy)", since: bobSeen, behind: gate)
            let carol = try await LiveClient.connect(server, as: "carol")
            try await Self.subscribe(carol, "chats/\(quiet)", since: carolSeen, behind: gate)
            gate.leave(holder)

            #expect(await carol.wait { _ in carol.events(on: "chats/\(quiet)").count == 1 })
            #expect(await bob.wait(timeout: .seconds(60)) { _ in bob.events(on: "chats/\(busy)").count >= posted.count })
            #expect(try await bob.roundTrip())
            let got = bob.events(on: "chats/\(busy)").compactMap { ($0["event"] as? [String: Any])?["messageId"] as? String }
            #expect(got == posted, "\(got.count) of \(posted.count), first difference at \(Array(zip(got, posted)).firstIndex { $0.0 != $0.1 } ?? -1)")
            #expect(carol.events(on: "chats/\(quiet)").compactMap { ($0["event"] as? [String: Any])?["messageId"] as? String } == [carolMissed])
            let metrics = try await server.call(.get, "/metrics", as: nil).text
            #expect(metrics.contains("chatflow_websocket_replay_turns_given_total 1"), "bob's replay let carol's go first once: \(metrics)")
            await bob.close()
            await carol.close()
        }
    }

    /// A replay waiting its turn on a socket that then closes gives up its place in line.
    @Test func aClosedSocketStopsWaitingForItsReplay() async throws {
        let gate = ReplayGate(limit: 1)
        let holder = UserID(unchecked: "holder")
        try await TestServer.run(replayGate: gate) { server in
            let chat = try await server.createChat("alice")
            let seen = try await server.post(chat, as: "alice", "seen")
            await gate.enter(holder)
            let alice = try await LiveClient.connect(server, as: "alice")
            try await Self.subscribe(alice, "chats/\(chat)", since: seen, behind: gate)
            #expect(gate.counts.waiting == 1)
            await alice.close()
            #expect(await eventually(timeout: .seconds(20)) { gate.counts.waiting == 0 }, "the closed socket's replay still waits")
            gate.leave(holder)
        }
    }

    @Test func subscriptionsAreForMembersOnlyAndTypingIsEphemeral() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice", isPrivate: true)
            try await server.add("bob", to: chat, by: "alice")
            let mallory = try await LiveClient.connect(server, as: "mallory")
            try await mallory.subscribe("chats/\(chat)")
            #expect(mallory.frames.contains { $0["type"] as? String == "error" && $0["code"] as? String == "not_found" })
            try await mallory.send(#"{"op":"ping"}"#)
            #expect(await mallory.wait { $0.contains { $0["type"] as? String == "pong" } })

            let alice = try await LiveClient.connect(server, as: "alice")
            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("chats/\(chat)")
            let before = server.engine.log.lastPosition
            try await alice.send(#"{"op":"typing","chatId":"\#(chat)"}"#)
            #expect(await bob.wait { _ in bob.events(on: "chats/\(chat)").contains { ($0["event"] as? [String: Any])?["kind"] as? String == "typing" } })
            #expect(server.engine.log.lastPosition == before, "typing is never logged")
            await alice.close(); await bob.close(); await mallory.close()
        }
    }

    /// Typing indicators sent in a loop reach the others once a second at most, not each time.
    @Test func typingInALoopIsPassedOnOnce() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let alice = try await LiveClient.connect(server, as: "alice")
            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("chats/\(chat)")
            #expect(await bob.wait { $0.contains { $0["type"] as? String == "subscribed" } })
            for _ in 0..<20 { try await alice.send(#"{"op":"typing","chatId":"\#(chat)"}"#) }
            // Alice's operations are handled in order: once her ping is answered, every typing
            // indicator has been passed on or dropped, ahead of the message on bob's socket.
            try await alice.send(#"{"op":"ping"}"#)
            #expect(await alice.wait { $0.contains { $0["type"] as? String == "pong" } })
            let message = try await server.post(chat, as: "alice", "done typing")
            #expect(await bob.wait { _ in bob.events(on: "chats/\(chat)").contains { ($0["event"] as? [String: Any])?["messageId"] as? String == message } })
            let typing = bob.events(on: "chats/\(chat)").filter { ($0["event"] as? [String: Any])?["kind"] as? String == "typing" }
            // One, or two should the twenty straddle a second on a slow machine.
            #expect((1...2).contains(typing.count), "\(typing.count) typing indicators passed on for 20 sent back to back")
            await alice.close(); await bob.close()
        }
    }

    /// Pings (and any frame but a subscribe) wait for the user's read budget: forty sent at
    /// once with a budget of ten and ten a second are all answered, the last thirty at the
    /// budget's pace, however fast the client sends. Across the user's sockets.
    @Test func pingsAreAnsweredAtTheReadLimitsPace() async throws {
        try await TestServer.run(configure: {
            $0.readRateLimit = 10
            $0.readRateBurst = 10
        }) { server in
            let sockets = [try await LiveClient.connect(server, as: "alice"), try await LiveClient.connect(server, as: "alice")]
            let start = ContinuousClock.now
            for socket in sockets {
                for _ in 0..<20 { try await socket.send(#"{"op":"ping"}"#) }
            }
            for socket in sockets {
                #expect(await socket.wait(timeout: .seconds(30)) { $0.count { $0["type"] as? String == "pong" } == 20 })
            }
            let seconds = (ContinuousClock.now - start) / .seconds(1)
            #expect(seconds >= 2.5, "40 pings answered in \(seconds) s, past a budget of 10 and 10 a second")
            for socket in sockets { await socket.close() }
        }
    }

    /// A `since` this server never gave out (ahead of the clock) or gave out and lost (in a
    /// gap a restore from an older backup left) is refused with `unknown_since`, not
    /// answered as recovered; subscribing without `since` goes live.
    @Test func aSinceThisServerNeverGaveOutOrLostIsRefused() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            let last = try await server.post(chat, as: "alice", "the last one here")
            let client = try await LiveClient.connect(server, as: "alice")
            try await client.subscribe("chats/\(chat)", since: last)
            #expect(await client.wait { $0.contains { $0["type"] as? String == "subscribed" && $0["recovered"] as? Bool == true } }, "the last id is known")
            try await client.send(#"{"op":"unsubscribe","channel":"chats/\#(chat)"}"#)
            #expect(await client.wait { $0.contains { $0["type"] as? String == "unsubscribed" } })

            let future = ULID(timestamp: ULID(last)!.timestamp + 60_000, randomHigh: 0, randomLow: 0).description
            try await client.subscribe("chats/\(chat)", since: future)
            #expect(await client.wait { $0.contains { $0["type"] as? String == "error" } })
            let error = try #require(client.frames.first { $0["type"] as? String == "error" })
            #expect(error["code"] as? String == "unknown_since" && error["channel"] as? String == "chats/\(chat)", "\(error)")
            #expect(client.frames.filter { $0["type"] as? String == "subscribed" }.count == 1, "not answered as recovered")

            // An id after the newest event but not ahead of the clock is not refused: whether
            // it is would tell anyone the id of the newest event in any chat, one bit a try.
            let beyondLast = ULID(timestamp: ULID(last)!.timestamp, randomHigh: .max, randomLow: .max)
            try await client.subscribe("chats/\(chat)", since: beyondLast.description)
            #expect(await client.wait { $0.filter { $0["type"] as? String == "subscribed" }.count == 2 }, "\(client.frames)")
            try await client.send(#"{"op":"unsubscribe","channel":"chats/\#(chat)"}"#)
            #expect(await client.wait { $0.filter { $0["type"] as? String == "unsubscribed" }.count == 2 })
            // Unless a restore lost the history it belongs to.
            try RestoreGaps.record(after: ULID(last), throughMilliseconds: beyondLast.timestamp, in: server.engine.database)
            try await client.subscribe("chats/\(chat)", since: beyondLast.description)
            #expect(await client.wait { $0.filter { $0["code"] as? String == "unknown_since" }.count == 2 }, "\(client.frames)")
            try await client.subscribe("chats/\(chat)", since: last)
            #expect(await client.wait { $0.filter { $0["type"] as? String == "subscribed" }.count == 3 }, "an id before the gap is known: \(client.frames)")
            // Refused on a socket live on the chat, a resume ends that subscription too, as
            // one too far behind does: the client is to start afresh.
            let witness = try await LiveClient.connect(server, as: "alice")
            try await witness.subscribe("chats/\(chat)")
            try await client.send(#"{"op":"subscribe","channel":"chats/\#(chat)","since":"\#(future)"}"#)
            #expect(await client.wait { $0.filter { $0["code"] as? String == "unknown_since" }.count == 3 })
            let after = try await server.post(chat, as: "alice", "after the refusal")
            #expect(await witness.wait { _ in witness.events(on: "chats/\(chat)").contains { ($0["event"] as? [String: Any])?["messageId"] as? String == after } })
            #expect(try await client.roundTrip())
            #expect(!client.events(on: "chats/\(chat)").contains { ($0["event"] as? [String: Any])?["messageId"] as? String == after }, "\(client.frames)")
            await witness.close()

            // A since that is no id at all is refused saying what is wrong with it, and
            // changes nothing: the subscription live on the socket goes on.
            try await client.subscribe("chats/\(chat)")
            #expect(await client.wait { $0.filter { $0["type"] as? String == "subscribed" }.count == 4 })
            try await client.subscribe("chats/\(chat)", since: "0" + String(repeating: "z", count: 24) + "u")
            #expect(await client.wait { $0.filter { $0["type"] as? String == "error" }.count == 4 })
            let malformed = try #require(client.frames.last { $0["type"] as? String == "error" })
            #expect(malformed["code"] as? String == "invalid" && (malformed["detail"] as? String)?.contains("'u' at position 26") == true, "\(malformed)")
            let stillLive = try await server.post(chat, as: "alice", "after the malformed since")
            #expect(await client.wait { _ in client.events(on: "chats/\(chat)").contains { ($0["event"] as? [String: Any])?["messageId"] as? String == stillLive } })
            await client.close()
        }
    }

    /// An unknown channel is refused with `invalid`; the detail quotes at most 64 characters
    /// of a long name, and `channel` carries it whole for the client to match. A frame
    /// giving a field twice is refused too.
    @Test func anUnknownChannelOrARepeatedFieldIsRefused() async throws {
        try await TestServer.run { server in
            let client = try await LiveClient.connect(server, as: "alice")
            let name = "rooms/" + String(repeating: "x", count: 5_000)
            try await client.subscribe(name)
            #expect(await client.wait { $0.contains { $0["type"] as? String == "error" } })
            let error = try #require(client.frames.first { $0["type"] as? String == "error" })
            #expect(error["code"] as? String == "invalid" && error["channel"] as? String == name)
            let detail = try #require(error["detail"] as? String)
            #expect(detail.contains("unknown channel 'rooms/xxx") && detail.count < 200, "\(detail.count) characters")

            // A field given twice is refused, not read as the first (or the last) one.
            try await client.send(#"{"op":"ping","op":"subscribe","channel":"users/me/notifications"}"#)
            #expect(await client.wait { $0.filter { $0["type"] as? String == "error" }.count == 2 })
            let twice = try #require(client.frames.last { $0["type"] as? String == "error" })
            #expect((twice["detail"] as? String)?.contains("'op' is given more than once") == true, "\(twice)")
            #expect(!client.frames.contains { $0["type"] as? String == "pong" || $0["type"] as? String == "subscribed" })

            // Valid UTF-8 that JSONSerialization would read as UTF-16 (its zero bytes) is
            // refused; it once took the server down.
            try await client.send("[\u{0}\"\u{0}\u{0}\"}\u{0}}\u{0}\"\u{0}]\u{0}")
            #expect(await client.wait { $0.filter { $0["type"] as? String == "error" }.count == 3 })
            #expect((client.frames.last { $0["type"] as? String == "error" }?["detail"] as? String)?.contains("UTF-8") == true)
            // So is a trailing comma, which Foundation's parser takes.
            try await client.send(#"{"op":"ping",}"#)
            #expect(await client.wait { $0.filter { $0["type"] as? String == "error" }.count == 4 })
            #expect((client.frames.last { $0["type"] as? String == "error" }?["detail"] as? String)?.contains("a comma before a closing bracket") == true)
            // A field of another type is named, with the channel it was about.
            try await client.send(#"{"op":"subscribe","channel":"chats/abc","since":5}"#)
            #expect(await client.wait { $0.filter { $0["type"] as? String == "error" }.count == 5 })
            let mistyped = try #require(client.frames.last { $0["type"] as? String == "error" })
            #expect(mistyped["detail"] as? String == "field 'since' must be a string" && mistyped["channel"] as? String == "chats/abc", "\(mistyped)")
            try await client.send(#"{"op":"typing","chatId":5}"#)
            #expect(await client.wait { $0.filter { $0["type"] as? String == "error" }.count == 6 })
            #expect(client.frames.last { $0["type"] as? String == "error" }?["detail"] as? String == "field 'chatId' must be a string")
            try await client.send(#"{"op":"ping"}"#)
            #expect(await client.wait { $0.contains { $0["type"] as? String == "pong" } })
            await client.close()
        }
    }

    /// A `since` further behind than the replay limit is refused instead of scanning the log
    /// for one socket: the client is told to reload, and its subscription ends (no silent
    /// gap); subscribing again without `since` goes live.
    @Test func aSinceTooFarBehindIsRefusedAndEndsTheSubscription() async throws {
        try await TestServer.run(configure: { $0.webSocketReplayLimit = 5 }) { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let since = try await server.post(chat, as: "alice", "seen")
            for i in 0..<6 { _ = try await server.post(chat, as: "alice", "missed-\(i)") }

            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("chats/\(chat)", since: since)
            #expect(await bob.wait { frames in frames.contains { $0["type"] as? String == "error" } })
            let error = try #require(bob.frames.first { $0["type"] as? String == "error" })
            #expect(error["code"] as? String == "too_far_behind" && error["channel"] as? String == "chats/\(chat)", "\(error)")
            // Told before any of the events, not after the limit's worth of them, and never
            // told first that the gap would be filled.
            #expect(bob.events(on: "chats/\(chat)").isEmpty, "\(bob.events(on: "chats/\(chat)"))")
            #expect(!bob.frames.contains { $0["type"] as? String == "subscribed" }, "\(bob.frames)")

            // Ended: a later post is not sent on it; after subscribing afresh, the next one is.
            _ = try await server.post(chat, as: "alice", "while unsubscribed")
            try await bob.subscribe("chats/\(chat)")
            #expect(await bob.wait { frames in frames.filter { $0["type"] as? String == "subscribed" }.count == 1 })
            let live = try await server.post(chat, as: "alice", "live")
            #expect(await bob.wait { _ in bob.events(on: "chats/\(chat)").contains { ($0["event"] as? [String: Any])?["messageId"] as? String == live } })
            // (The fresh subscription may still get it, if the hub handles that post after it.)
            let frames = bob.frames
            let resubscribed = try #require(frames.indices.filter { frames[$0]["type"] as? String == "subscribed" }.last)
            let beforeIt = frames[..<resubscribed].compactMap { ($0["event"] as? [String: Any])?["content"] as? String }
            #expect(!beforeIt.contains("while unsubscribed"), "\(beforeIt)")
            await bob.close()
        }
    }

    /// A member who left and joined again, resuming from before they left, hears of both
    /// and stays subscribed (the replay used to end at their old `member.left`); what
    /// happened while they were out is skipped, as it was live.
    @Test func aMemberWhoLeftAndCameBackResumesAcrossBoth() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let since = try await server.post(chat, as: "alice", "seen")
            #expect(try await server.call(.delete, "/chats/\(chat)/members/bob", as: "bob").status == 204)
            _ = try await server.post(chat, as: "alice", "while bob was out")
            try await server.join(chat, as: "bob")
            let missed = try await server.post(chat, as: "alice", "after bob came back")

            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("chats/\(chat)", since: since)
            #expect(await bob.wait { _ in bob.events(on: "chats/\(chat)").count == 3 }, "\(bob.frames)")
            #expect(bob.eventKinds(on: "chats/\(chat)") == ["member.left", "member.joined", "message.created"])
            let live = try await server.post(chat, as: "alice", "live")
            #expect(await bob.wait { _ in bob.events(on: "chats/\(chat)").count == 4 }, "\(bob.frames)")
            #expect(bob.events(on: "chats/\(chat)").suffix(2).map { $0["id"] as? String } == [missed, live])
            #expect(!bob.frames.contains { $0["type"] as? String == "unsubscribed" || $0["type"] as? String == "error" }, "\(bob.frames)")
            await bob.close()
        }
    }

    /// Resuming from their own `member.left` (the last event they heard before leaving), a
    /// member who came back hears their return and what followed, not what came while they
    /// were out.
    @Test func aResumeFromTheirOwnLeavingSkipsWhileTheyWereOut() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let before = server.engine.log.lastPosition
            #expect(try await server.call(.delete, "/chats/\(chat)/members/bob", as: "bob").status == 204)
            let left = try #require(try server.engine.log.read(after: before, limit: 10).first?.id)
            _ = try await server.post(chat, as: "alice", "while bob was out")
            try await server.join(chat, as: "bob")
            let back = try await server.post(chat, as: "alice", "after bob came back")

            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("chats/\(chat)", since: left.description)
            #expect(await bob.wait { _ in bob.events(on: "chats/\(chat)").count == 2 }, "\(bob.frames)")
            #expect(try await bob.roundTrip())
            #expect(bob.eventKinds(on: "chats/\(chat)") == ["member.joined", "message.created"], "\(bob.frames)")
            #expect((bob.events(on: "chats/\(chat)")[1]["event"] as? [String: Any])?["messageId"] as? String == back)
            await bob.close()
        }
    }

    /// A `since` from before the user was ever a member (from another chat's history, or
    /// made up) replays the chat from their joining: what came before — a name edited away,
    /// members and reactions come and gone — is not theirs to hear. Its creator, resuming
    /// from before they created it, hears it all.
    @Test func aSinceFromBeforeTheUserJoinedReplaysFromTheirJoining() async throws {
        try await TestServer.run { server in
            let before = try await server.post(try await server.createChat("dave"), as: "dave", "elsewhere")
            let chat = try await server.createChat("alice")
            #expect(try await server.call(.patch, "/chats/\(chat)", as: "alice", json: #"{"name":"plan to replace bob"}"#).status == 200)
            try await server.join(chat, as: "carol")
            let message = try await server.post(chat, as: "alice", "history")
            #expect(try await server.call(.post, "/messages/\(message)/reactions", as: "carol", json: #"{"emoji":"🤫"}"#).status == 201)
            #expect(try await server.call(.delete, "/chats/\(chat)/members/carol", as: "alice").status == 204)
            #expect(try await server.call(.patch, "/chats/\(chat)", as: "alice", json: #"{"name":"team sync"}"#).status == 200)
            try await server.join(chat, as: "bob")
            let after = try await server.post(chat, as: "alice", "welcome bob")

            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("chats/\(chat)", since: before)
            #expect(await bob.wait { _ in bob.events(on: "chats/\(chat)").count == 2 }, "\(bob.frames)")
            #expect(try await bob.roundTrip())
            #expect(bob.eventKinds(on: "chats/\(chat)") == ["member.joined", "message.created"], "\(bob.frames)")
            #expect((bob.events(on: "chats/\(chat)")[1]["event"] as? [String: Any])?["messageId"] as? String == after)

            let alice = try await LiveClient.connect(server, as: "alice")
            try await alice.subscribe("chats/\(chat)", since: before)
            #expect(await alice.wait { _ in alice.events(on: "chats/\(chat)").count == 8 }, "\(alice.frames)")
            #expect(try await alice.roundTrip())
            #expect(alice.events(on: "chats/\(chat)").count == 8, "\(alice.frames)")
            for client in [bob, alice] { await client.close() }
        }
    }

    /// The same for one who leaves while their replay waits for its turn: from their joining
    /// up to their leaving, then `unsubscribed`.
    @Test func aSinceFromBeforeJoiningIsHeardFromTheJoiningAlsoAfterLeaving() async throws {
        let gate = ReplayGate(limit: 1)
        let holder = UserID(unchecked: "holder")
        try await TestServer.run(replayGate: gate) { server in
            let before = try await server.post(try await server.createChat("dave"), as: "dave", "elsewhere")
            let chat = try await server.createChat("alice")
            #expect(try await server.call(.patch, "/chats/\(chat)", as: "alice", json: #"{"name":"plan to replace bob"}"#).status == 200)
            try await server.join(chat, as: "bob")
            let welcome = try await server.post(chat, as: "alice", "welcome bob")
            await gate.enter(holder)
            let bob = try await LiveClient.connect(server, as: "bob")
            try await Self.subscribe(bob, "chats/\(chat)", since: before, behind: gate)
            #expect(try await server.call(.delete, "/chats/\(chat)/members/bob", as: "bob").status == 204)
            try await server.engine.projector.waitUntilApplied(try #require(server.engine.log.lastPosition), cancellable: false)
            gate.leave(holder)

            #expect(await bob.wait { frames in frames.contains { $0["type"] as? String == "unsubscribed" } }, "\(bob.frames)")
            #expect(try await bob.roundTrip())
            #expect(bob.eventKinds(on: "chats/\(chat)") == ["member.joined", "message.created", "member.left"], "\(bob.frames)")
            #expect((bob.events(on: "chats/\(chat)")[1]["event"] as? [String: Any])?["messageId"] as? String == welcome)
            await bob.close()
        }
    }

    /// A member who left, came back and left again while their resume waited for its replay
    /// hears both stretches, up to their last leaving, then `unsubscribed`: not only up to
    /// the first leaving, which hid what they were there for.
    @Test func aMemberWhoLeftTwiceHearsUpToTheirLastLeaving() async throws {
        let gate = ReplayGate(limit: 1)
        let holder = UserID(unchecked: "holder")
        try await TestServer.run(replayGate: gate) { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let since = try await server.post(chat, as: "alice", "seen")
            #expect(try await server.call(.delete, "/chats/\(chat)/members/bob", as: "bob").status == 204)
            _ = try await server.post(chat, as: "alice", "while bob was out")
            try await server.join(chat, as: "bob")
            let back = try await server.post(chat, as: "alice", "after bob came back")
            await gate.enter(holder)
            let bob = try await LiveClient.connect(server, as: "bob")
            try await Self.subscribe(bob, "chats/\(chat)", since: since, behind: gate)
            #expect(try await server.call(.delete, "/chats/\(chat)/members/bob", as: "bob").status == 204)
            _ = try await server.post(chat, as: "alice", "after bob left again")
            try await server.engine.projector.waitUntilApplied(try #require(server.engine.log.lastPosition), cancellable: false)
            gate.leave(holder)

            #expect(await bob.wait { frames in frames.contains { $0["type"] as? String == "unsubscribed" } }, "\(bob.frames)")
            #expect(try await bob.roundTrip())
            #expect(bob.eventKinds(on: "chats/\(chat)") == ["member.left", "member.joined", "message.created", "member.left"], "\(bob.frames)")
            #expect((bob.events(on: "chats/\(chat)")[2]["event"] as? [String: Any])?["messageId"] as? String == back)
            #expect(bob.frames.filter { $0["type"] as? String == "unsubscribed" }.count == 1, "\(bob.frames)")
            await bob.close()
        }
    }

    /// A `since` from before the retention horizon is refused: the messages there are gone,
    /// and a replay of what is left would be a gap the client cannot see.
    @Test func aSinceBeforeTheRetentionHorizonIsRefused() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let old = try await server.post(chat, as: "alice", "from long ago")
            let engine = server.engine
            let now = UInt64(Date().timeIntervalSince1970 * 1000)
            // One day kept, two days on: everything so far is before the horizon.
            _ = try Retention(days: 1, log: engine.log, store: engine.store, projector: engine.projector).run(now: now + 2 * 86_400_000)

            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("chats/\(chat)", since: old)
            #expect(await bob.wait { $0.contains { $0["type"] as? String == "error" } })
            let error = try #require(bob.frames.first { $0["type"] as? String == "error" })
            #expect(error["code"] as? String == "too_far_behind" && (error["detail"] as? String)?.contains("retention") == true, "\(error)")
            #expect(bob.events(on: "chats/\(chat)").isEmpty)
            #expect(!bob.frames.contains { $0["type"] as? String == "subscribed" }, "\(bob.frames)")
            await bob.close()
        }
    }

    /// An edit or a reaction after the retention horizon to a message before it is not
    /// replayed: the message is gone (404), and the edit would come with empty text.
    @Test func aReplaySkipsEventsAboutMessagesRetentionRemoved() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let old = try await server.post(chat, as: "alice", "from long ago")
            // The next message in a later millisecond, so the horizon can fall between them.
            while UInt64(Date().timeIntervalSince1970 * 1000) <= ULID(old)!.timestamp {}
            let since = try await server.post(chat, as: "alice", "seen")
            #expect(try await server.call(.patch, "/messages/\(old)", as: "alice", json: #"{"content":"edited late"}"#).status == 200)
            #expect(try await server.call(.post, "/messages/\(old)/reactions", as: "bob", json: #"{"emoji":"👍"}"#).status == 201)
            let after = try await server.post(chat, as: "alice", "after")
            let engine = server.engine
            // One day kept, a day after `since`: the horizon is `since`'s millisecond.
            _ = try Retention(days: 1, log: engine.log, store: engine.store, projector: engine.projector)
                .run(now: ULID(since)!.timestamp + 86_400_000)
            #expect(try await server.call(.get, "/messages/\(old)", as: "alice").status == 404)

            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("chats/\(chat)", since: since)
            #expect(await bob.wait { frames in frames.contains { ($0["event"] as? [String: Any])?["messageId"] as? String == after } })
            #expect(bob.eventKinds(on: "chats/\(chat)") == ["message.created"], "\(bob.frames)")
            await bob.close()
        }
    }

    /// The replay limit counts the chat's own events: a member of a quiet chat resumes
    /// with everything it missed there however busy another chat was meanwhile (it was told
    /// it was too far behind once the whole log had moved on by the limit), and the limit
    /// still holds for the busy chat.
    @Test func aReplayCountsOnlyItsChatsEvents() async throws {
        try await TestServer.run(configure: { $0.webSocketReplayLimit = 5 }) { server in
            let quiet = try await server.createChat("alice", name: "quiet")
            let busy = try await server.createChat("alice", name: "busy")
            try await server.join(quiet, as: "bob")
            try await server.join(busy, as: "bob")
            let since = try await server.post(quiet, as: "alice", "seen")
            var missed: [String] = []
            for i in 0..<12 {
                _ = try await server.post(busy, as: "alice", "busy-\(i)")
                if i % 4 == 0 { missed.append(try await server.post(quiet, as: "alice", "quiet-\(i)")) }
            }
            #expect(try await server.call(.patch, "/messages/\(missed[0])", as: "alice", json: #"{"content":"quiet, edited"}"#).status == 200)

            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("chats/\(quiet)", since: since)
            #expect(await bob.wait { _ in bob.events(on: "chats/\(quiet)").count == 4 }, "\(bob.frames)")
            let replayed = bob.events(on: "chats/\(quiet)")
            #expect(replayed.map { $0["id"] as? String ?? "" }.prefix(3) == missed[...], "in log order")
            #expect((replayed.last?["event"] as? [String: Any])?["kind"] as? String == "message.edited")
            #expect(!bob.frames.contains { $0["type"] as? String == "error" }, "\(bob.frames)")

            try await bob.subscribe("chats/\(busy)", since: since)
            #expect(await bob.wait { frames in frames.contains { $0["type"] as? String == "error" } })
            let error = try #require(bob.frames.first { $0["type"] as? String == "error" })
            #expect(error["code"] as? String == "too_far_behind" && error["channel"] as? String == "chats/\(busy)", "\(error)")

            // The notifications channel counts every event of the log: told so, not told
            // `subscribed` first.
            let notifications = "users/me/notifications"
            try await bob.subscribe(notifications, since: since)
            #expect(await bob.wait { $0.contains { $0["type"] as? String == "error" && $0["channel"] as? String == notifications } })
            #expect(bob.frames.first { $0["channel"] as? String == notifications }?["code"] as? String == "too_far_behind", "\(bob.frames)")
            #expect(!bob.frames.contains { $0["type"] as? String == "subscribed" && $0["channel"] as? String == notifications }, "\(bob.frames)")
            await bob.close()
        }
    }

    /// A replay from the log gives message events the message's text as it is now: what was
    /// deleted or edited away is not handed out again, even to a member resuming from the
    /// chat's very beginning.
    @Test func aReplayDoesNotGiveBackDeletedOrEditedAwayText() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let edited = try await server.post(chat, as: "alice", "first draft")
            #expect(try await server.call(.patch, "/messages/\(edited)", as: "alice", json: #"{"content":"final text"}"#).status == 200)
            let deleted = try await server.post(chat, as: "alice", "regrettable")
            #expect(try await server.call(.delete, "/messages/\(deleted)", as: "alice").status == 204)
            let kept = try await server.post(chat, as: "alice", "plain")

            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("chats/\(chat)", since: chat)
            #expect(await bob.wait { _ in bob.events(on: "chats/\(chat)").contains { ($0["event"] as? [String: Any])?["messageId"] as? String == kept } })
            let events = bob.events(on: "chats/\(chat)").compactMap { $0["event"] as? [String: Any] }
            let text = String(decoding: try JSONSerialization.data(withJSONObject: events), as: UTF8.self)
            #expect(!text.contains("first draft") && !text.contains("regrettable"), "\(text)")
            #expect(events.map { $0["kind"] as? String ?? "?" } == ["member.joined", "message.created", "message.edited", "message.created", "message.deleted", "message.created"])
            let created = events.filter { $0["kind"] as? String == "message.created" }.compactMap { $0["message"] as? [String: Any] }
            #expect(created.map { $0["content"] as? String } == ["final text", "", "plain"])
            #expect(created.map { $0["deleted"] as? Bool } == [false, true, false])
            // The text as it is now goes with when it became so, as the message reads over HTTP.
            let now = try await server.call(.get, "/messages/\(edited)", as: "bob").string("editedAt")
            #expect(now != nil && created.first?["editedAt"] as? String == now, "\(created)")
            #expect(created.dropFirst().allSatisfy { $0["editedAt"] is NSNull }, "\(created)")
            await bob.close()
        }
    }

    /// Channels are named one way in every frame, however the client spelled the chat id;
    /// every unsubscribe is answered.
    @Test func channelsAreCanonicalAndUnsubscribeAlwaysAnswers() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            let bob = try await LiveClient.connect(server, as: "alice")
            try await bob.send(#"{"op":"subscribe","channel":"chats/\#(chat.lowercased())"}"#)
            #expect(await bob.wait { frames in frames.contains { $0["type"] as? String == "subscribed" } })
            #expect(bob.frames.first { $0["type"] as? String == "subscribed" }?["channel"] as? String == "chats/\(chat)")
            let message = try await server.post(chat, as: "alice", "hello")
            #expect(await bob.wait { _ in bob.events(on: "chats/\(chat)").contains { ($0["event"] as? [String: Any])?["messageId"] as? String == message } })

            try await bob.send(#"{"op":"unsubscribe"}"#)
            try await bob.send(#"{"op":"unsubscribe","channel":"nonsense"}"#)
            try await bob.send(#"{"op":"unsubscribe","channel":"chats/\#(chat.lowercased())"}"#)
            #expect(await bob.wait { frames in frames.filter { $0["type"] as? String == "error" }.count == 2 && frames.contains { $0["type"] as? String == "unsubscribed" } })
            #expect(bob.frames.first { $0["type"] as? String == "unsubscribed" }?["channel"] as? String == "chats/\(chat)")
            await bob.close()
        }
    }

    /// Notifications carry posts in the user's chats, their own too (for their other
    /// devices' chat lists), and reactions to their messages, until they leave.
    @Test func notificationsReachTheUserAcrossChats() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let other = try await server.createChat("alice", name: "other")
            try await server.join(other, as: "bob")
            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("users/me/notifications")
            let message = try await server.post(chat, as: "bob", "bob's")
            _ = try await server.post(chat, as: "alice", "for bob")
            _ = try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"👍"}"#)
            // Taking a reaction back is told too, so counts kept from this channel go down.
            #expect(try await server.call(.delete, "/messages/\(message)/reactions/%F0%9F%91%8D", as: "alice").status == 204)
            _ = try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"👍"}"#)
            #expect(await bob.wait { _ in bob.events(on: "users/me/notifications").count >= 5 })
            let kinds = bob.events(on: "users/me/notifications").compactMap { ($0["event"] as? [String: Any])?["kind"] as? String }
            #expect(kinds == ["message.created", "message.created", "reaction.added", "reaction.removed", "reaction.added"])
            let authors = bob.events(on: "users/me/notifications").prefix(2).compactMap { (($0["event"] as? [String: Any])?["message"] as? [String: Any])?["userId"] as? String }
            #expect(authors == ["bob", "alice"], "\(authors)")

            // Once bob has left, reactions to what he wrote are not his to hear of.
            #expect(try await server.call(.delete, "/chats/\(chat)/members/bob", as: "bob").status == 204)
            _ = try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"🎉"}"#)
            // Once bob hears of a later post in another chat, the hub has passed the reaction
            // (it delivers in log order), and has decided on it while bob was out.
            _ = try await server.post(other, as: "alice", "elsewhere")
            #expect(await bob.wait { _ in bob.events(on: "users/me/notifications").count >= 7 })
            try await server.add("bob", to: chat, by: "alice")
            #expect(await bob.wait { _ in bob.events(on: "users/me/notifications").count >= 8 })
            let later = bob.events(on: "users/me/notifications").compactMap { ($0["event"] as? [String: Any])?["kind"] as? String }
            #expect(later == ["message.created", "message.created", "reaction.added", "reaction.removed", "reaction.added", "member.left", "message.created", "member.joined"], "\(later)")
            await bob.close()
        }
    }

    /// A user who left and came back while the projections were behind hears nothing of what
    /// was posted while they were out (the hub then gets the leave, the post and the return
    /// in one batch, after the projections hold all three): as a replay from the log says.
    @Test func notificationsLeaveOutWhatWasPostedWhileTheUserWasOut() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("users/me/notifications")
            let chatID = try ChatID(parsing: chat)
            let (alice, bobID) = (UserID(unchecked: "alice"), UserID(unchecked: "bob"))
            let hold = CatchUpHold()
            hold.engage(server.engine.projector)
            defer { hold.release() }
            for (actor, event): (UserID, ChangeEvent) in [
                (bobID, .memberLeft(.init(chat: chatID, user: bobID))),
                (alice, .messagePosted(.init(chat: chatID, content: "while bob was out", type: .text))),
                (bobID, .memberJoined(.init(chat: chatID, user: bobID, role: .member))),
            ] {
                _ = try await server.engine.log.append([EventCodec.encode(EventEnvelope(actor: actor, event: event))], idempotencyKey: nil)
            }
            hold.release()
            _ = try await server.post(chat, as: "alice", "bob is back")
            #expect(await bob.wait { _ in bob.events(on: "users/me/notifications").count >= 3 })
            let heard = bob.events(on: "users/me/notifications").compactMap { $0["event"] as? [String: Any] }
            let said = heard.map { event in [event["kind"] as? String, (event["message"] as? [String: Any])?["content"] as? String].compactMap { $0 }.joined(separator: " ") }
            #expect(said == ["member.left", "member.joined", "message.created bob is back"], "\(said)")
            await bob.close()
        }
    }

    /// Notifications resume with `since` as a chat does: what the user would have heard of
    /// while away (posts in their chats, their own too, reactions to their messages, being
    /// added or removed), none of what they would not (chats they are not in, a post from
    /// before they were added, anything of a chat they were removed from), then live,
    /// with no gap and no repeat while posts keep flowing.
    @Test func notificationsResumeWithSince() async throws {
        try await TestServer.run { server in
            let channel = "users/me/notifications"
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let elsewhere = try await server.createChat("carol", name: "elsewhere")
            let club = try await server.createChat("alice", name: "club")
            try await server.join(club, as: "bob")
            let first = try await LiveClient.connect(server, as: "bob")
            try await first.subscribe(channel)
            let bobs = try await server.post(chat, as: "bob", "bob's")
            _ = try await server.post(chat, as: "alice", "seen")
            #expect(await first.wait { _ in first.events(on: channel).count == 2 })
            let lastSeen = try #require(first.events(on: channel).last?["id"] as? String)
            await first.close()

            let missed = try await server.post(chat, as: "alice", "missed")
            #expect(try await server.call(.post, "/messages/\(bobs)/reactions", as: "alice", json: #"{"emoji":"👍"}"#).status == 201)
            #expect(try await server.call(.delete, "/messages/\(bobs)/reactions/%F0%9F%91%8D", as: "alice").status == 204)
            _ = try await server.post(elsewhere, as: "carol", "not bob's to hear")
            let secret = try await server.createChat("alice", name: "secret", isPrivate: true)
            _ = try await server.post(secret, as: "alice", "before bob is added")
            try await server.add("bob", to: secret, by: "alice")
            let inSecret = try await server.post(secret, as: "alice", "welcome")
            let bobsOwn = try await server.post(chat, as: "bob", "bob's own")
            _ = try await server.post(club, as: "alice", "before bob is removed")
            #expect(try await server.call(.delete, "/chats/\(club)/members/bob", as: "alice").status == 204)

            let again = try await LiveClient.connect(server, as: "bob")
            let writer = Task {
                var ids: [String] = []
                for i in 0..<15 { ids.append(try await server.post(chat, as: "alice", "live-\(i)")) }
                return ids
            }
            try await again.subscribe(channel, since: lastSeen)
            let live = try await writer.value
            #expect(await again.wait { _ in again.events(on: channel).count >= 7 + live.count })
            let events = again.events(on: channel)
            let kinds = events.compactMap { ($0["event"] as? [String: Any])?["kind"] as? String }
            #expect(kinds == ["message.created", "reaction.added", "reaction.removed", "member.joined", "message.created", "message.created", "member.left"]
                + live.map { _ in "message.created" }, "\(kinds)")
            let messages = events.compactMap { ($0["event"] as? [String: Any])?["messageId"] as? String }
            #expect(messages == [missed, bobs, bobs, inSecret, bobsOwn] + live, "\(messages)")
            let ids = events.compactMap { $0["id"] as? String }
            #expect(ids == ids.sorted() && Set(ids).count == ids.count && ids.allSatisfy { $0 > lastSeen })
            #expect(again.frames.first { $0["type"] as? String == "subscribed" }?["recovered"] as? Bool == true)

            // A since this server never gave out is refused here too.
            let restored = try await LiveClient.connect(server, as: "bob")
            try await restored.subscribe(channel, since: "7ZZZZZZZZZZZZZZZZZZZZZZZZZ")
            #expect(restored.frames.contains { $0["type"] as? String == "error" && $0["code"] as? String == "unknown_since" }, "\(restored.frames)")
            await again.close()
            await restored.close()
        }
    }

    /// The first to join a chat everyone has left becomes its owner, and the live event of
    /// the join says so, as the member list does.
    @Test func whoRejoinsAnEmptyChatIsToldTheyOwnIt() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            #expect(try await server.call(.delete, "/chats/\(chat)/members/alice", as: "alice").status == 204)
            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("users/me/notifications")
            try await server.join(chat, as: "bob")
            #expect(await bob.wait { _ in !bob.events(on: "users/me/notifications").isEmpty })
            let joined = try #require(bob.events(on: "users/me/notifications").first?["event"] as? [String: Any])
            #expect(joined["kind"] as? String == "member.joined" && joined["role"] as? String == "owner", "\(joined)")
            let members = try await server.call(.get, "/chats/\(chat)/members", as: "bob")
            let roles = (members["members"] as? [[String: Any]])?.map { "\($0["userId"] ?? "?"):\($0["role"] ?? "?")" }
            #expect(roles == ["bob:owner"], "\(members.text)")
            await bob.close()
        }
    }

    /// A chat created on one device reaches the creator's other devices, live and on
    /// resume, as their joining it (as owner); nobody else hears of it.
    @Test func aChatCreatedOnOneDeviceReachesTheCreatorsOthers() async throws {
        try await TestServer.run { server in
            let channel = "users/me/notifications"
            let earlier = try await server.createChat("bob", name: "earlier")
            let since = try #require(server.engine.log.lastPosition).description
            let laptop = try await LiveClient.connect(server, as: "bob")
            try await laptop.subscribe(channel)
            let alice = try await LiveClient.connect(server, as: "alice")
            try await alice.subscribe(channel)
            let created = try await server.createChat("bob", name: "from the phone")
            _ = try await server.join(earlier, as: "alice")
            #expect(await laptop.wait { _ in !laptop.events(on: channel).isEmpty })
            let joined = try #require(laptop.events(on: channel).first)
            let event = try #require(joined["event"] as? [String: Any])
            #expect(event["kind"] as? String == "member.joined" && event["chatId"] as? String == created
                && event["userId"] as? String == "bob" && event["role"] as? String == "owner", "\(event)")
            #expect(joined["id"] as? String == created)
            // alice hears of her own join, not of bob's new chat.
            #expect(await alice.wait { _ in !alice.events(on: channel).isEmpty })
            #expect(alice.events(on: channel).compactMap { ($0["event"] as? [String: Any])?["chatId"] as? String } == [earlier])

            // A later post of bob's in the new chat marks the end of what the replay brings.
            let later = try await server.post(created, as: "bob", "first words")
            let phone = try await LiveClient.connect(server, as: "bob")
            try await phone.subscribe(channel, since: since)
            #expect(await phone.wait { _ in phone.events(on: channel).contains { ($0["event"] as? [String: Any])?["messageId"] as? String == later } })
            let replayed = phone.events(on: channel).map { "\(($0["event"] as? [String: Any])?["kind"] ?? "?") \($0["id"] ?? "?")" }
            #expect(replayed == ["member.joined \(created)", "message.created \(later)"], "\(replayed)")
            // Its chat's channel carries no creation, live or replayed.
            let chatReplay = try await LiveClient.connect(server, as: "bob")
            try await chatReplay.subscribe("chats/\(created)", since: since)
            #expect(await chatReplay.wait { _ in !chatReplay.events(on: "chats/\(created)").isEmpty })
            #expect(chatReplay.events(on: "chats/\(created)").compactMap { $0["id"] as? String } == [later])
            await chatReplay.close()
            await laptop.close()
            await alice.close()
            await phone.close()
        }
    }

    /// What a chat list shows of each chat (its newest message, its name) is kept current
    /// through notifications: edits, deletes and renames reach the other members.
    @Test func notificationsCarryEditsDeletesAndRenames() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("users/me/notifications")
            let message = try await server.post(chat, as: "alice", "draft")
            #expect(try await server.call(.patch, "/messages/\(message)", as: "alice", json: #"{"content":"final"}"#).status == 200)
            #expect(try await server.call(.delete, "/messages/\(message)", as: "alice").status == 204)
            #expect(try await server.call(.patch, "/chats/\(chat)", as: "alice", json: #"{"name":"renamed"}"#).status == 200)
            #expect(await bob.wait { _ in bob.events(on: "users/me/notifications").count >= 4 })
            let events = bob.events(on: "users/me/notifications").compactMap { $0["event"] as? [String: Any] }
            #expect(events.map { $0["kind"] as? String ?? "?" } == ["message.created", "message.edited", "message.deleted", "chat.updated"])
            #expect(events[1]["content"] as? String == "final" && events[3]["name"] as? String == "renamed")
            await bob.close()
        }
    }

    /// A read marker reaches the reader's own notifications, live and on resume, so a chat
    /// read on one device is read on the others; never another member, nor a chat's channel,
    /// nor the reader once they have left the chat.
    @Test func readMarkersReachOnlyTheReadersOwnDevices() async throws {
        try await TestServer.run { server in
            let channel = "users/me/notifications"
            func kinds(_ client: LiveClient, on channel: String) -> [String] {
                client.events(on: channel).compactMap { ($0["event"] as? [String: Any])?["kind"] as? String }
            }
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let first = try await server.post(chat, as: "alice", "first")
            let phone = try await LiveClient.connect(server, as: "bob")
            try await phone.subscribe(channel)
            let alice = try await LiveClient.connect(server, as: "alice")
            try await alice.subscribe(channel)
            try await alice.subscribe("chats/\(chat)")
            let before = try await server.post(chat, as: "alice", "second")

            #expect(try await server.call(.post, "/chats/\(chat)/read", as: "bob", json: #"{"messageId":"\#(first)"}"#).status == 204)
            #expect(await phone.wait { _ in kinds(phone, on: channel).contains("read.moved") })
            let moved = try #require(phone.events(on: channel).last)
            let event = try #require(moved["event"] as? [String: Any])
            #expect(event["chatId"] as? String == chat && event["messageId"] as? String == first && event["userId"] as? String == "bob", "\(event)")
            let markerID = try #require(moved["id"] as? String)
            // Marked again where it is: nothing moves, nothing is told (alice's next post
            // comes after where a second one would be).
            #expect(try await server.call(.post, "/chats/\(chat)/read", as: "bob", json: #"{"messageId":"\#(first)"}"#).status == 204)
            let next = try await server.post(chat, as: "alice", "next")
            #expect(await phone.wait { _ in phone.events(on: channel).contains { ($0["event"] as? [String: Any])?["messageId"] as? String == next } })
            #expect(kinds(phone, on: channel).filter { $0 == "read.moved" }.count == 1, "\(kinds(phone, on: channel))")

            // Once alice hears of bob's next post on both her channels, the hub has passed
            // the marker (it delivers in log order) without telling her.
            let after = try await server.post(chat, as: "bob", "after")
            #expect(await alice.wait { _ in
                alice.events(on: "chats/\(chat)").contains { ($0["event"] as? [String: Any])?["messageId"] as? String == after }
                    && alice.events(on: channel).contains { ($0["event"] as? [String: Any])?["messageId"] as? String == after }
            })
            #expect(!kinds(alice, on: "chats/\(chat)").contains("read.moved") && !kinds(alice, on: channel).contains("read.moved"))

            // Resumed from before it, bob's other device gets the marker; alice's chat channel
            // does not replay it.
            let laptop = try await LiveClient.connect(server, as: "bob")
            try await laptop.subscribe(channel, since: before)
            #expect(await laptop.wait { _ in laptop.events(on: channel).contains { $0["id"] as? String == markerID } })
            let resumed = try await LiveClient.connect(server, as: "alice")
            try await resumed.subscribe("chats/\(chat)", since: before)
            #expect(await resumed.wait { _ in resumed.events(on: "chats/\(chat)").contains { ($0["event"] as? [String: Any])?["messageId"] as? String == after } })
            #expect(!kinds(resumed, on: "chats/\(chat)").contains("read.moved"))

            // Out of the chat, bob's resume leaves his old marker there.
            #expect(try await server.call(.delete, "/chats/\(chat)/members/bob", as: "bob").status == 204)
            let away = try await LiveClient.connect(server, as: "bob")
            try await away.subscribe(channel, since: before)
            #expect(await away.wait { _ in kinds(away, on: channel).contains("member.left") })
            #expect(!kinds(away, on: channel).contains("read.moved"), "\(kinds(away, on: channel))")
            for client in [phone, alice, laptop, resumed, away] { await client.close() }
        }
    }

    @Test func anExpiredTokenClosesTheSocket() async throws {
        try await TestServer.run(configure: { $0.jwtLeewaySeconds = 0 }) { server in
            // Long enough to outlast the upgrade with the rest of the suite running in the same
            // process (the token is checked when the socket opens, on the task pool the other
            // tests keep busy; 10 s was once not enough).
            let client = try await LiveClient.connect(server, as: "alice", token: try await server.token("alice", ttl: 30))
            #expect(await client.closed(timeout: .seconds(60)) == 4001)
        }
    }

    /// A token past `exp` but within the leeway opens a socket that stays open, as it still
    /// passes on HTTP (it used to be closed at once with 4001, and a client reconnecting with
    /// it looped).
    @Test func aTokenWithinTheLeewayKeepsItsSocket() async throws {
        // A leeway long enough that a busy machine cannot outlast it during the test.
        try await TestServer.run(configure: { $0.jwtLeewaySeconds = 300 }) { server in
            let token = try await server.token("alice", ttl: -5)
            #expect(try await server.call(.get, "/chats", as: nil, headers: [.authorization: "Bearer \(token)"]).status == 200)
            let client = try await LiveClient.connect(server, as: "alice", token: token)
            #expect(try await client.roundTrip(), "the socket did not answer a ping")
            #expect(try await client.roundTrip())
            await client.close()
        }
    }
    /// Subscribes with `since` while `gate` is held: the answer comes only once the replay
    /// is let in, so this waits for the replay to wait instead (from then on the
    /// subscription holds live frames back for it).
    private static func subscribe(_ client: LiveClient, _ channel: String, since: String, behind gate: ReplayGate) async throws {
        let waiting = gate.counts.waiting
        try await client.send(#"{"op":"subscribe","channel":"\#(channel)","since":"\#(since)"}"#)
        #expect(await eventually(timeout: .seconds(15)) { gate.counts.waiting > waiting }, "the replay never waited")
    }
}

/// Set once, read by many tasks: tells writers to stop after the post in hand.
private final class StopFlag: Sendable {
    private let flag = Atomic(false)
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}
