import ChatFlowCore
import Synchronization

/// What keeps the server from being ready: projections behind the log, or a write path
/// that failed (a full disk) and has not yet recovered.
final class Readiness: Sendable {
    private let writeFailure = Mutex<String?>(nil)

    func writesFailed(_ reason: String) { writeFailure.withLock { $0 = reason } }
    func writesRecovered() { writeFailure.withLock { $0 = nil } }

    func problem(projector: Projector) -> String? {
        if let failure = writeFailure.withLock({ $0 }) { return failure }
        if !projector.isCaughtUp { return "projections are catching up with the change log" }
        return nil
    }
}
