import ChatFlowCore
import ChatFlowStorage

/// What keeps the server from being ready: projections behind the change log, a disk
/// too full to take writes, or a store that refuses them.
struct Readiness: Sendable {
    var log: RocksDBChangeLog

    func problem(projector: Projector) -> String? {
        if let full = log.diskGuard?.problem { return full }
        if let failure = log.writeFailure {
            return "the store refuses writes (\(failure)); fix the cause, then restart the server"
        }
        return projector.isCaughtUp ? nil : "projections are catching up with the change log"
    }
}
