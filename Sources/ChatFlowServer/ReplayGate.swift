import ChatFlowCore
import Synchronization

/// Lets replays from the log run a few at a time, and one at a time per user, in the order
/// they asked. A replay may read up to `CHATFLOW_WS_REPLAY_LIMIT` events; without a gate, a
/// member subscribing with an old `since` in a loop, on every socket they may open, would
/// keep every core reading the log while everyone else's requests waited. With it, such a
/// member waits their turn behind others', and the cores beyond `limit` keep serving.
package final class ReplayGate: Sendable {
    private struct Waiter {
        let user: UserID
        /// The connection it replays for, to drop it when that closes.
        let connection: Int
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var running: [UserID: Int] = [:]
        var runningTotal = 0
        var waiting: [Waiter] = []
    }

    package let limit: Int
    private let state = Mutex(State())

    package init(limit: Int) {
        precondition(limit > 0)
        self.limit = limit
    }

    /// Returns true once `user` may replay (pair it with `leave`), or false when
    /// `cancel(connection:)` dropped the wait first, or `closed` says the connection closed
    /// (asked under the lock `cancel` takes: one closing as this waits is not left behind).
    @discardableResult
    package func enter(_ user: UserID, connection: Int = 0, closed: () -> Bool = { false }) async -> Bool {
        await withCheckedContinuation { continuation in
            let admitted: Bool? = state.withLock { state in
                if closed() { return nil }
                // Each `leave` admits every waiter that may run, so when there is room now,
                // those still waiting are held by a replay of their own user: no overtaking.
                if Self.mayRun(user, in: state, limit: limit) {
                    state.running[user, default: 0] += 1
                    state.runningTotal += 1
                    return true
                }
                state.waiting.append(Waiter(user: user, connection: connection, continuation: continuation))
                return false
            }
            switch admitted {
            case true?: continuation.resume(returning: true)
            case nil: continuation.resume(returning: false)
            case false?: break
            }
        }
    }

    /// Drops the waits of a connection that closed: a client opening sockets, asking for a
    /// replay and closing them again must not leave waiters piling up.
    package func cancel(connection: Int) {
        let dropped = state.withLock { state -> [Waiter] in
            let dropped = state.waiting.filter { $0.connection == connection }
            state.waiting.removeAll { $0.connection == connection }
            return dropped
        }
        for waiter in dropped { waiter.continuation.resume(returning: false) }
    }

    package func leave(_ user: UserID) {
        let admitted = state.withLock { state -> [Waiter] in
            let mine = state.running[user, default: 1] - 1
            state.running[user] = mine > 0 ? mine : nil
            state.runningTotal -= 1
            // Waiters that may run now, in the order they came; the leaving user's own go
            // after everyone else's, so one user's many replays take turns with others'.
            var admitted = Self.admit(from: &state, limit: limit) { $0 != user }
            admitted += Self.admit(from: &state, limit: limit) { _ in true }
            return admitted
        }
        for waiter in admitted { waiter.continuation.resume(returning: true) }
    }

    private static func admit(from state: inout State, limit: Int, where eligible: (UserID) -> Bool) -> [Waiter] {
        var admitted: [Waiter] = []
        var index = 0
        while index < state.waiting.count && state.runningTotal < limit {
            let waiter = state.waiting[index]
            if eligible(waiter.user) && mayRun(waiter.user, in: state, limit: limit) {
                state.waiting.remove(at: index)
                state.running[waiter.user, default: 0] += 1
                state.runningTotal += 1
                admitted.append(waiter)
            } else {
                index += 1
            }
        }
        return admitted
    }

    /// Whether a replay of another user than `user` waits for a turn it could take (its
    /// user has none running): a long replay of `user`'s then lets it go first.
    package func othersWait(besides user: UserID) -> Bool {
        state.withLock { state in state.waiting.contains { $0.user != user && state.running[$0.user] == nil } }
    }

    /// Replays running now, and waiting (for tests and metrics).
    package var counts: (running: Int, waiting: Int) {
        state.withLock { ($0.runningTotal, $0.waiting.count) }
    }

    private static func mayRun(_ user: UserID, in state: State, limit: Int) -> Bool {
        state.runningTotal < limit && state.running[user] == nil
    }
}
