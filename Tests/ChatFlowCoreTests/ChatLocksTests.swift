import ChatFlowTestSupport
import Synchronization
import Testing

@testable import ChatFlowCore
@testable import ChatFlowStorage

/// The per-chat readers-writer lock commands hold: readers share it, a writer has it alone,
/// waiters are served in arrival order, and idle chats are forgotten.
@Suite(.timeLimit(.minutes(3))) struct ChatLocksTests {
    /// Generous: in a parallel run of the whole suite, other tests' synchronous work can keep
    /// the two threads of the task pool from these holders for many seconds.
    private static let patience = Duration.seconds(60)

    private let chat = ChatID(ULID(bytes: [UInt8](repeating: 1, count: 16))!)
    private let other = ChatID(ULID(bytes: [UInt8](repeating: 2, count: 16))!)

    /// The order holders got the lock in.
    private final class Order: Sendable {
        let names = Mutex<[String]>([])
    }

    /// A holder that keeps the lock until `release()`.
    private final class Holder: Sendable {
        private let gate = AsyncStream<Void>.makeStream()
        private let held = Atomic(false)
        private let done = Atomic(false)
        var isHolding: Bool { held.load(ordering: .acquiring) }
        var isDone: Bool { done.load(ordering: .acquiring) }

        func hold(_ locks: ChatLocks, _ chat: ChatID, _ mode: ChatLocks.Mode, by user: UserID? = nil, log: Order, name: String) async throws {
            try await locks.withLock(chat, mode, by: user) {
                log.names.withLock { $0.append(name) }
                held.store(true, ordering: .releasing)
                for await _ in gate.stream { break }
            }
            done.store(true, ordering: .releasing)
        }

        func release() { gate.continuation.yield() }
    }

    @Test func readersShareAWriterWaitsAndLaterReadersQueueBehindIt() async throws {
        let locks = ChatLocks()
        let order = Order()
        let (r1, r2, w, r3, elsewhere) = (Holder(), Holder(), Holder(), Holder(), Holder())
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await r1.hold(locks, chat, .shared, log: order, name: "r1") }
            group.addTask { try await r2.hold(locks, chat, .shared, log: order, name: "r2") }
            #expect(await eventually(timeout: Self.patience) { r1.isHolding && r2.isHolding }, "two readers share the lock")

            group.addTask { try await w.hold(locks, chat, .exclusive, log: order, name: "w") }
            // The writer is queued before the next reader arrives.
            #expect(await eventually(timeout: Self.patience) { locks.waiting(in: chat) == 1 })
            group.addTask { try await r3.hold(locks, chat, .shared, log: order, name: "r3") }
            #expect(await eventually(timeout: Self.patience) { locks.waiting(in: chat) == 2 })
            // Another chat's lock is its own.
            group.addTask { try await elsewhere.hold(locks, other, .exclusive, log: order, name: "elsewhere") }
            #expect(await eventually(timeout: Self.patience) { elsewhere.isHolding })
            elsewhere.release()

            r1.release()
            #expect(await eventually(timeout: Self.patience) { r1.isDone })
            #expect(!w.isHolding, "the writer waits for every reader")
            r2.release()
            #expect(await eventually(timeout: Self.patience) { w.isHolding })
            #expect(!r3.isHolding, "a reader that came after the writer waits for it")
            w.release()
            #expect(await eventually(timeout: Self.patience) { r3.isHolding })
            r3.release()
            try await group.waitForAll()
        }
        let seen = order.names.withLock { $0 }.filter { $0 != "elsewhere" }
        #expect(Set(seen.prefix(2)) == ["r1", "r2"] && Array(seen.dropFirst(2)) == ["w", "r3"], "\(seen)")
        #expect(locks.count == 0, "idle chats are forgotten")
    }

    @Test func aFailingBodyLetsGo() async throws {
        struct Refused: Error {}
        let locks = ChatLocks()
        await #expect(throws: Refused.self) {
            try await locks.withLock(chat, .exclusive) { throw Refused() }
        }
        #expect(locks.count == 0)
        let value = try await locks.withLock(chat, .exclusive) { 42 }
        #expect(value == 42)
    }

    /// Sharing a chat's lock as a user: the same user's holders take turns, another user's
    /// share the chat with them, and a writer waits only for those holding the chat's lock,
    /// not for the user's requests queued behind one another.
    @Test func aUsersPlaceInAChatIsTheirsAlone() async throws {
        let locks = ChatLocks()
        let order = Order()
        let (bob, carol) = (UserID(unchecked: "bob"), UserID(unchecked: "carol"))
        let (phone, laptop, other, writer) = (Holder(), Holder(), Holder(), Holder())
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await phone.hold(locks, chat, .shared, by: bob, log: order, name: "phone") }
            #expect(await eventually(timeout: Self.patience) { phone.isHolding })
            group.addTask { try await laptop.hold(locks, chat, .shared, by: bob, log: order, name: "laptop") }
            #expect(await eventually(timeout: Self.patience) { locks.waiting(in: chat, by: bob) == 1 })
            group.addTask { try await other.hold(locks, chat, .shared, by: carol, log: order, name: "other") }
            #expect(await eventually(timeout: Self.patience) { other.isHolding }, "another user shares the chat")
            group.addTask { try await writer.hold(locks, chat, .exclusive, log: order, name: "writer") }
            #expect(await eventually(timeout: Self.patience) { locks.waiting(in: chat) == 1 })
            other.release()
            phone.release()
            #expect(await eventually(timeout: Self.patience) { writer.isHolding })
            #expect(!laptop.isHolding, "the user's next request came after the writer")
            writer.release()
            #expect(await eventually(timeout: Self.patience) { laptop.isHolding })
            laptop.release()
            try await group.waitForAll()
        }
        #expect(order.names.withLock { $0 } == ["phone", "other", "writer", "laptop"])
        #expect(locks.count == 0, "idle places are forgotten")
    }
}
