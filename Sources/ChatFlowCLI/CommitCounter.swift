import ChatFlowStorage
import Synchronization

/// Counts group commits and the events in them, from the log's writer thread.
final class CommitCounter: Sendable {
    private let counts = Mutex((commits: 0, events: 0))

    func record(_ statistics: GroupCommitStatistics) {
        counts.withLock { $0.commits += 1; $0.events += statistics.events }
    }

    var commits: Int { counts.withLock { $0.commits } }
    var events: Int { counts.withLock { $0.events } }
}
