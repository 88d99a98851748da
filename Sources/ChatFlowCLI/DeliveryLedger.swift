import Synchronization

/// The `message.created` frames received by the WebSocket connections of one event loop:
/// how many per post, and their latency from the post's due time. One ledger per event loop
/// keeps the lock uncontended: only that loop's connections record into it.
final class DeliveryLedger: Sendable {
    struct Snapshot {
        var deliveries = 0
        var latencies = LatencyHistogram()
        var lastDelivery: ContinuousClock.Instant?
        /// Connections the server closed, or that failed, during the run.
        var disconnects = 0
    }

    private struct State {
        var snapshot = Snapshot()
        var schedule: LoadSchedule?
        var counts: [UInt32] = []
    }

    private let state = Mutex(State())

    /// Starts counting against `schedule`; frames before this are not from this run's posts.
    func begin(_ schedule: LoadSchedule) {
        state.withLock {
            $0.schedule = schedule
            $0.counts = [UInt32](repeating: 0, count: schedule.count)
        }
    }

    func delivered(_ sequence: Int, at now: ContinuousClock.Instant) {
        state.withLock {
            guard let schedule = $0.schedule, sequence < $0.counts.count else { return }
            $0.counts[sequence] += 1
            $0.snapshot.deliveries += 1
            $0.snapshot.latencies.record(microseconds: schedule.microseconds(since: sequence, at: now))
            $0.snapshot.lastDelivery = now
        }
    }

    func disconnected() {
        state.withLock { $0.snapshot.disconnects += 1 }
    }

    var snapshot: Snapshot { state.withLock { $0.snapshot } }
    var deliveries: Int { state.withLock { $0.snapshot.deliveries } }
    var counts: [UInt32] { state.withLock { $0.counts } }
}
