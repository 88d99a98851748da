import Dispatch
import Synchronization

/// How far a replay on several threads has come: the slowest projection's count, reported
/// at most four times a second from whichever thread gets there.
final class ReplayProgress: @unchecked Sendable {
    private struct State {
        var counts: [Int]
        var lastReport: UInt64
    }

    private let state: Mutex<State>
    private let started: UInt64
    // Called under the lock, so never from two threads at once.
    private let report: ((Rebuilder.Progress) -> Void)?

    init(projections: Int, started: UInt64, report: ((Rebuilder.Progress) -> Void)?) {
        state = Mutex(State(counts: Array(repeating: 0, count: projections), lastReport: started))
        self.started = started
        self.report = report
    }

    func update(_ slot: Int, events: Int, estimate: Int) {
        state.withLock { state in
            state.counts[slot] = events
            let now = DispatchTime.now().uptimeNanoseconds
            guard let report, now - state.lastReport > 250_000_000 else { return }
            state.lastReport = now
            let done = state.counts.min() ?? 0
            report(Rebuilder.Progress(events: done, estimatedTotal: max(estimate, done), seconds: Double(now - started) / 1e9))
        }
    }

    /// The events replayed: every projection reads the same log, so the largest count.
    var total: Int {
        state.withLock { $0.counts.max() ?? 0 }
    }
}
