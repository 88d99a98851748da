import ChatFlowStorage
import Synchronization

/// Counts group commits, the events in them and the time spent writing them, from the
/// log's writer thread.
final class CommitCounter: Sendable {
    private let counts = Mutex((commits: 0, events: 0, writeNanoseconds: UInt64(0)))

    func record(_ statistics: GroupCommitStatistics) {
        counts.withLock {
            $0.commits += 1
            $0.events += statistics.events
            $0.writeNanoseconds += statistics.writeNanoseconds
        }
    }

    var commits: Int { counts.withLock { $0.commits } }
    var events: Int { counts.withLock { $0.events } }
    var writeSeconds: Double { Double(counts.withLock { $0.writeNanoseconds }) / 1e9 }
}
