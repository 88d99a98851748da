@testable import ChatFlowServer
import ChatFlowCore
import Synchronization
import Testing

/// Replays from the log run a few at a time and one at a time per user; a user with many
/// waiting takes turns with others instead of going ahead of them.
@Suite(.timeLimit(.minutes(1))) struct ReplayGateTests {
    /// The order replays were let in, written from the tasks that waited.
    private final class Arrivals: Sendable {
        private let names = Mutex<[String]>([])
        func add(_ name: String) { names.withLock { $0.append(name) } }
        var all: [String] { names.withLock { $0 } }
    }

    /// Polls `condition` until it holds or a deadline passes (the gate's waiters resume on
    /// other threads).
    private func eventually(_ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return condition()
    }

    @Test func replaysTakeTurnsAcrossUsers() async throws {
        let gate = ReplayGate(limit: 1)
        let (mallory, bob) = (UserID(unchecked: "mallory"), UserID(unchecked: "bob"))
        let order = Arrivals()
        await gate.enter(mallory)
        // Two more of mallory's, then one of bob's, all waiting behind the first.
        var tasks: [Task<Void, Never>] = []
        for (user, name) in [(mallory, "mallory-2"), (mallory, "mallory-3"), (bob, "bob-1")] {
            let before = gate.counts.waiting
            tasks.append(Task {
                await gate.enter(user)
                order.add(name)
            })
            #expect(await eventually { gate.counts.waiting == before + 1 }, "\(name) waits")
        }
        #expect(gate.counts == (running: 1, waiting: 3))
        // Bob goes before mallory's second: the leaving user's own wait behind others'.
        gate.leave(mallory)
        #expect(await eventually { order.all == ["bob-1"] }, "\(order.all)")
        gate.leave(bob)
        #expect(await eventually { order.all == ["bob-1", "mallory-2"] })
        gate.leave(mallory)
        #expect(await eventually { order.all == ["bob-1", "mallory-2", "mallory-3"] })
        gate.leave(mallory)
        for task in tasks { await task.value }
        #expect(gate.counts == (running: 0, waiting: 0))
    }

    /// A long replay gives up its turn only for a waiter that could take it: another
    /// user's, whose user has none running.
    @Test func aTurnIsGivenOnlyToAWaiterThatCouldTakeIt() async throws {
        let gate = ReplayGate(limit: 2)
        let (alice, bob, carol) = (UserID(unchecked: "alice"), UserID(unchecked: "bob"), UserID(unchecked: "carol"))
        await gate.enter(alice)
        await gate.enter(bob)
        #expect(!gate.othersWait(besides: alice))
        let bobsSecond = Task { await gate.enter(bob) }
        #expect(await eventually { gate.counts.waiting == 1 })
        #expect(!gate.othersWait(besides: alice), "bob's second could not run were alice to leave")
        #expect(!gate.othersWait(besides: bob), "bob's own")
        let carols = Task { await gate.enter(carol) }
        #expect(await eventually { gate.counts.waiting == 2 })
        #expect(gate.othersWait(besides: alice) && gate.othersWait(besides: bob))
        gate.leave(alice)
        _ = await carols.value
        gate.leave(bob)
        _ = await bobsSecond.value
        #expect(gate.counts == (running: 2, waiting: 0))
        gate.leave(carol)
        gate.leave(bob)
    }

    @Test func aUserRunsOneReplayAtATimeWhileOthersUseTheRoom() async throws {
        let gate = ReplayGate(limit: 2)
        let (alice, bob) = (UserID(unchecked: "alice"), UserID(unchecked: "bob"))
        await gate.enter(alice)
        let second = Task { await gate.enter(alice) }
        #expect(await eventually { gate.counts == (running: 1, waiting: 1) }, "alice's second waits despite room")
        // Bob is not held by alice's waiting replay.
        await gate.enter(bob)
        #expect(gate.counts == (running: 2, waiting: 1))
        gate.leave(bob)
        #expect(gate.counts == (running: 1, waiting: 1))
        gate.leave(alice)
        _ = await second.value
        #expect(gate.counts == (running: 1, waiting: 0))
        gate.leave(alice)
    }
}
