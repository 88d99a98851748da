import Synchronization

/// The bytes of WebSocket frames waiting for their sockets, all connections together, and
/// how many may wait. Each connection's queue is bounded on its own
/// (`ServerConfiguration.webSocketQueueBytes`), but thousands of clients that stop reading
/// at once (a network that drops, a crowd of phones put to sleep) would each keep that much
/// in the server's memory; past `limit`, live delivery to a connection that is itself
/// holding at least `share` bytes the socket is not taking closes it as too slow, while
/// those keeping up, whose queues stay small, are never cut for it. Replays are not cut:
/// each waits for its window to drain, and they run a few at a time (`ReplayGate`).
package final class OutboundBudget: Sendable {
    package let limit: Int
    /// What a connection must hold before the budget being spent closes it.
    package let share: Int
    private let total = Atomic<Int>(0)

    package init(limit: Int, share: Int = 64 * 1024) {
        self.limit = limit
        self.share = share
    }

    /// Counts `bytes` more as waiting; the total they make.
    func add(_ bytes: Int) -> Int {
        total.wrappingAdd(bytes, ordering: .relaxed).newValue
    }

    func remove(_ bytes: Int) {
        total.wrappingSubtract(bytes, ordering: .relaxed)
    }

    /// Bytes of frames waiting for clients' sockets, for `/metrics`.
    package var waiting: Int { total.load(ordering: .relaxed) }
}
