import ChatFlowCore
import ChatFlowStorage

/// What keeps the server from being ready: projections behind the change log, or a disk
/// too full to take writes.
struct Readiness: Sendable {
    var diskGuard: DiskSpaceGuard?

    func problem(projector: Projector) -> String? {
        if let full = diskGuard?.problem { return full }
        return projector.isCaughtUp ? nil : "projections are catching up with the change log"
    }
}
