@testable import ChatFlowCore
import ChatFlowStorage
import ChatFlowTestSupport
import Foundation
import Synchronization
import Testing

/// Requests that race one that takes away their right: what each checked must still hold
/// when its event is committed. A member removed while their requests are in flight adds,
/// posts and reacts before their `member.left` or not at all; an edit racing a delete of
/// its message lands before the delete or is refused.
@Suite(.timeLimit(.minutes(3))) struct CommandRaceTests {
    /// One request on a connection of its own (the test client sends one at a time), so
    /// that requests started together reach the server together.
    private func call(_ server: TestServer, _ method: String, _ path: String, as user: String, json: String? = nil) async throws -> (status: Int, text: String) {
        let token = try await server.token(user)
        let body = json ?? ""
        let answer = try await StalledClient.exchange(port: server.port, request: "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + "Authorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        let status = answer.head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, answer.head + answer.body)
    }

    /// The log's events after `position`, in order.
    private func events(after position: ULID?, in server: TestServer) throws -> [LoggedEvent] {
        try server.engine.log.read(after: position, limit: 100_000).map { record in
            let envelope = try EventCodec.decode(record.payload)
            return LoggedEvent(id: record.id, actor: envelope.actor, event: envelope.event)
        }
    }

    @Test func aRemovedMemberWritesNothingAfterTheirRemoval() async throws {
        try await TestServer.run { server in
            var accepted = 0
            for attempt in 0..<30 {
                let chat = try await server.createChat("alice", name: "race-\(attempt)", isPrivate: true)
                try await server.add("bob", to: chat, by: "alice")
                let message = try await server.post(chat, as: "alice", "hello")
                let start = server.engine.log.lastPosition

                async let removal = call(server, "DELETE", "/chats/\(chat)/members/bob", as: "alice")
                async let addition = call(server, "POST", "/chats/\(chat)/members", as: "bob", json: #"{"userId":"eve-\#(attempt)"}"#)
                async let posting = call(server, "POST", "/chats/\(chat)/messages", as: "bob", json: #"{"content":"still here?","messageType":"text"}"#)
                async let reaction = call(server, "POST", "/messages/\(message)/reactions", as: "bob", json: #"{"emoji":"👍"}"#)
                let (removed, added, posted, reacted) = try await (removal, addition, posting, reaction)
                #expect(removed.status == 204, "\(removed.status) \(removed.text)")
                for reply in [added, posted, reacted] where reply.status >= 300 {
                    // Refused because bob is no longer a member: a private chat he is not in.
                    #expect(reply.status == 404, "\(reply.status) \(reply.text)")
                }
                accepted += [added, posted, reacted].count { $0.status < 300 }

                let log = try events(after: start, in: server)
                let left = try #require(log.firstIndex { logged in
                    if case .memberLeft(let left) = logged.event { return left.user.rawValue == "bob" }
                    return false
                })
                let late = log[(left + 1)...].filter { $0.actor.rawValue == "bob" }
                #expect(late.isEmpty, "attempt \(attempt): bob's \(late.map { "\($0.event)" }) committed after his removal")
                // What was accepted was committed before the removal, and what was refused never.
                #expect(log[..<left].filter { $0.actor.rawValue == "bob" }.count == [added, posted, reacted].count { $0.status < 300 })
                let eveIsMember = try server.engine.reader.role(of: UserID(unchecked: "eve-\(attempt)"), in: ChatID(#require(ULID(chat)))) != nil
                #expect(eveIsMember == (added.status == 200), "attempt \(attempt): eve is a member: \(eveIsMember), add answered \(added.status)")
            }
            // Not a vacuous run: some of bob's requests got in before his removal.
            #expect(accepted > 0)
        }
    }

    /// New kinds of reaction racing for a message's last place: one gets it.
    @Test func reactionsRacingForTheLastKindLeaveTheBound() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            let message = try await server.post(chat, as: "alice", "popular")
            let limit = ChatFlowCommands.maxReactionKinds
            for face in 0..<(limit - 1) {
                let emoji = String(Unicode.Scalar(0x1F600 + UInt32(face))!)
                #expect(try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"\#(emoji)"}"#).status == 201)
            }
            let racers = ["🍎", "🍐", "🍊", "🍋", "🍌", "🍉"]
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for emoji in racers {
                    group.addTask { try await call(server, "POST", "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"\#(emoji)"}"#).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.sorted() == [201] + Array(repeating: 409, count: racers.count - 1), "\(statuses)")
            let kinds = try server.engine.reader.reactionCounts(MessageID(#require(ULID(message)))).count
            #expect(kinds == limit)
        }
    }

    /// A user adding and removing one reaction from two devices at once: every request is
    /// answered as done (a removal can take an addition away before it reads it back, and
    /// that addition still happened), and the counts stay what the log says. The commands
    /// are called directly, many at once, for races that HTTP round trips would space out.
    @Test func aReactionRacingItsOwnRemovalIsAnswered() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            let message = try MessageID(#require(ULID(try await server.post(chat, as: "alice", "tap tap"))))
            let users = (0..<8).map { "tapper\($0)" }
            for user in users { try await server.join(chat, as: user) }
            let commands = ChatFlowCommands(engine: server.engine)
            let failures = try await withThrowingTaskGroup(of: [String].self) { group in
                for user in users.map(UserID.init(unchecked:)) {
                    for device in 0..<2 {
                        group.addTask {
                            var failures: [String] = []
                            for round in 0..<150 {
                                do {
                                    if (round + device) % 2 == 0 {
                                        _ = try await commands.react(to: message, with: "👍", by: user)
                                    } else {
                                        try await commands.unreact(to: message, with: "👍", by: user)
                                    }
                                } catch {
                                    failures.append("\(error)")
                                }
                            }
                            return failures
                        }
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(failures.isEmpty, "\(failures.count) failed: \(Set(failures))")
            let reports = try Verifier(log: server.engine.log, store: server.engine.store).verify(projector: server.engine.projector)
            #expect(reports.filter { !$0.equal }.map(\.projection) == [])
        }
    }

    @Test func anEditRacingADeleteLandsBeforeItOrNotAtAll() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            for attempt in 0..<30 {
                let message = try await server.post(chat, as: "alice", "draft \(attempt)")
                let start = server.engine.log.lastPosition
                async let edit = call(server, "PATCH", "/messages/\(message)", as: "alice", json: #"{"content":"edited \#(attempt)"}"#)
                async let deletion = call(server, "DELETE", "/messages/\(message)", as: "alice")
                let (edited, deleted) = try await (edit, deletion)
                #expect(deleted.status == 204, "\(deleted.status) \(deleted.text)")
                #expect([200, 409].contains(edited.status), "\(edited.status) \(edited.text)")

                let kinds = try events(after: start, in: server).map { logged -> String in
                    switch logged.event {
                    case .messageEdited: "edited"
                    case .messageDeleted: "deleted"
                    default: "other"
                    }
                }
                #expect(kinds == (edited.status == 200 ? ["edited", "deleted"] : ["deleted"]), "attempt \(attempt): \(kinds), edit answered \(edited.status)")
            }
        }
    }

    /// The same change sent several times at once (a retry without a key, two devices) is
    /// made once: one event in the log, however the requests interleave.
    @Test func theSameChangeSentAtOnceIsLoggedOnce() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let chatID = try ChatID(#require(ULID(chat)))
            let commands = ChatFlowCommands(engine: server.engine)
            let (alice, bob) = (UserID(unchecked: "alice"), UserID(unchecked: "bob"))
            func count(after start: ULID?, _ matches: (ChangeEvent) -> Bool) throws -> Int {
                try events(after: start, in: server).count { matches($0.event) }
            }
            func atOnce(_ body: @escaping @Sendable () async throws -> Void) async throws {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<3 { group.addTask { try await body() } }
                    try await group.waitForAll()
                }
            }
            for attempt in 0..<20 {
                let message = try MessageID(#require(ULID(try await server.post(chat, as: "bob", "attempt \(attempt)"))))
                // One more of a reaction that is there already (the shared path), three times.
                _ = try await commands.react(to: message, with: "👍", by: alice)
                var start = server.engine.log.lastPosition
                try await atOnce { _ = try await commands.react(to: message, with: "👍", by: bob) }
                #expect(try count(after: start) { if case .reactionAdded = $0 { true } else { false } } == 1, "attempt \(attempt): added")
                start = server.engine.log.lastPosition
                try await atOnce { try await commands.unreact(to: message, with: "👍", by: bob) }
                #expect(try count(after: start) { if case .reactionRemoved = $0 { true } else { false } } == 1, "attempt \(attempt): removed")
                start = server.engine.log.lastPosition
                try await atOnce { try await commands.markRead(chatID, upTo: message, by: alice) }
                #expect(try count(after: start) { if case .readMarkerMoved = $0 { true } else { false } } == 1, "attempt \(attempt): read")
                start = server.engine.log.lastPosition
                try await atOnce { _ = try await commands.edit(message, by: bob, content: "edited \(attempt)") }
                #expect(try count(after: start) { if case .messageEdited = $0 { true } else { false } } == 1, "attempt \(attempt): edited")
            }
        }
    }

    /// A retry sent while its original is still waiting (the client gave up on it) finds no
    /// key at first, then waits behind it: it is answered as the retry it is, not checked
    /// against what the original changed. The test holds the chat's lock until both wait.
    @Test func aRetryOverlappingItsOriginalIsAnsweredAsARetry() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let chatID = try ChatID(#require(ULID(chat)))
            let message = try MessageID(#require(ULID(try await server.post(chat, as: "alice", "tap"))))
            let commands = ChatFlowCommands(engine: server.engine)
            let locks = server.engine.chatLocks
            let (alice, bob) = (UserID(unchecked: "alice"), UserID(unchecked: "bob"))

            /// Starts each request once the one before waits for the lock the test holds, then lets go.
            func queued<R: Sendable>(_ requests: [@Sendable () async throws -> R]) async throws -> [Result<R, any Error>] {
                let (release, gate) = AsyncStream<Void>.makeStream()
                let holding = Mutex(false)
                let holder = Task {
                    try await locks.withLock(chatID, .exclusive) {
                        holding.withLock { $0 = true }
                        for await _ in release { break }
                    }
                }
                #expect(await eventually { holding.withLock { $0 } })
                var tasks: [Task<R, any Error>] = []
                for (index, request) in requests.enumerated() {
                    tasks.append(Task { try await request() })
                    #expect(await eventually { locks.waiting(in: chatID) + locks.waiting(in: chatID, by: bob) == index + 1 })
                }
                gate.yield()
                try await holder.value
                var results: [Result<R, any Error>] = []
                for task in tasks { results.append(await task.result) }
                return results
            }

            // The owner removes bob; the retry would find him gone (404).
            let removals = try await queued([
                { @Sendable in try await commands.remove(bob, from: chatID, by: alice, idempotencyKey: "remove-bob") },
                { @Sendable in try await commands.remove(bob, from: chatID, by: alice, idempotencyKey: "remove-bob") },
            ])
            #expect(try removals.map { try $0.get() } == [false, true])
            try await server.join(chat, as: "bob")

            // Bob's reaction is there already, so the keyed request logs no event; he takes it
            // back; the retry comes last. It once appended with the key and crashed the
            // server on the empty answer.
            _ = try await commands.react(to: message, with: "👍", by: bob)
            let start = server.engine.log.lastPosition
            let reactions = try await queued([
                { @Sendable in try await commands.react(to: message, with: "👍", by: bob, idempotencyKey: "thumb").replayed },
                { @Sendable in try await commands.unreact(to: message, with: "👍", by: bob); return false },
                { @Sendable in try await commands.react(to: message, with: "👍", by: bob, idempotencyKey: "thumb").replayed },
            ])
            #expect(try reactions.map { try $0.get() } == [false, false, true])
            let kinds = try events(after: start, in: server).map { "\($0.event)".prefix(while: { $0 != "(" }) }
            #expect(kinds == ["reactionRemoved"], "the retry reacted again: \(kinds)")
            #expect(try server.engine.reader.reactionCounts(message) == [:])
        }
    }

    /// A deleted message shows no reactions: taking one back changes nothing and tells
    /// nobody (adding one is refused).
    @Test func aDeletedMessagesReactionIsNotTakenBack() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let message = try await server.post(chat, as: "alice", "soon gone")
            #expect(try await server.call(.post, "/messages/\(message)/reactions", as: "bob", json: #"{"emoji":"👍"}"#).status == 201)
            #expect(try await server.call(.delete, "/messages/\(message)", as: "alice").status == 204)
            let start = server.engine.log.lastPosition
            #expect(try await server.call(.delete, "/messages/\(message)/reactions/%F0%9F%91%8D", as: "bob").status == 204)
            #expect(try events(after: start, in: server).isEmpty)
            #expect(try await server.call(.post, "/messages/\(message)/reactions", as: "bob", json: #"{"emoji":"👍"}"#).status == 409)
        }
    }
}
