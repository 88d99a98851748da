import Synchronization

/// What became of each post: its latency from its due time to its response, and which
/// posts succeeded, for counting the deliveries they should make.
final class PostLedger: Sendable {
    struct Snapshot {
        var sent = 0
        var answered = 0
        var succeeded = 0
        var errors = 0
        var errorsByStatus: [String: Int] = [:]
        var latencies = LatencyHistogram()
        var lastAnswer: ContinuousClock.Instant?
        /// How late the scheduler sent its latest post, and the worst it did.
        var maxSendLagMicroseconds: UInt64 = 0
    }

    private struct State {
        var snapshot = Snapshot()
        var succeeded: [Bool]
    }

    private let state: Mutex<State>
    let schedule: LoadSchedule

    init(schedule: LoadSchedule) {
        self.schedule = schedule
        state = Mutex(State(succeeded: [Bool](repeating: false, count: schedule.count)))
    }

    func sent(_ sequence: Int, at now: ContinuousClock.Instant) {
        let lag = schedule.microseconds(since: sequence, at: now)
        state.withLock {
            $0.snapshot.sent += 1
            $0.snapshot.maxSendLagMicroseconds = max($0.snapshot.maxSendLagMicroseconds, lag)
        }
    }

    /// A response (`status`), or a post that got none (`status` nil: the connection failed).
    func answered(_ sequence: Int, status: Int?, at now: ContinuousClock.Instant) {
        let latency = schedule.microseconds(since: sequence, at: now)
        state.withLock {
            $0.snapshot.answered += 1
            $0.snapshot.lastAnswer = now
            if let status, (200..<300).contains(status) {
                $0.snapshot.succeeded += 1
                $0.succeeded[sequence] = true
                $0.snapshot.latencies.record(microseconds: latency)
            } else {
                $0.snapshot.errors += 1
                $0.snapshot.errorsByStatus[status.map(String.init) ?? "connection", default: 0] += 1
            }
        }
    }

    var snapshot: Snapshot { state.withLock { $0.snapshot } }
    var answered: Int { state.withLock { $0.snapshot.answered } }
    var succeeded: [Bool] { state.withLock { $0.succeeded } }
}
