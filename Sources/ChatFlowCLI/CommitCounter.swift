import ChatFlowStorage
import Synchronization

/// Sums what the log's writer thread reports of each group commit: how many, the events
/// in them, and where the writer's time went.
final class CommitCounter: Sendable {
    struct Totals {
        var commits = 0
        var events = 0
        var writeNanoseconds: UInt64 = 0
        var gatherNanoseconds: UInt64 = 0
        var prepareNanoseconds: UInt64 = 0
        var resumeNanoseconds: UInt64 = 0

        /// Mean milliseconds per commit of a summed phase.
        func perCommit(_ nanoseconds: UInt64) -> Double {
            Double(nanoseconds) / 1e6 / Double(max(commits, 1))
        }
    }

    private let counts = Mutex(Totals())

    func record(_ statistics: GroupCommitStatistics) {
        counts.withLock {
            $0.commits += 1
            $0.events += statistics.events
            $0.writeNanoseconds += statistics.writeNanoseconds
            $0.gatherNanoseconds += statistics.gatherNanoseconds
            $0.prepareNanoseconds += statistics.prepareNanoseconds
            $0.resumeNanoseconds += statistics.resumeNanoseconds
        }
    }

    var totals: Totals { counts.withLock { $0 } }
}
