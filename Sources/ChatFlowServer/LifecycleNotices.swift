import ChatFlowCore
import Logging
import ServiceLifecycle

/// Says in the log what an operator waits on at either end of a run: after a start, the
/// projections catching up with the log (reads answer 503 until they have), which takes
/// the better part of a minute on a large log; and a stop giving requests in flight their
/// grace period. The log was silent through both.
struct LifecycleNotices: Service {
    let projector: Projector
    let graceSeconds: Int
    let logger: Logger
    /// Whether the projections lacked part of the log when the server was built, before
    /// the projector could start on it (a short one may be applied before `run` begins).
    private let behind: Bool

    init(projector: Projector, graceSeconds: Int, logger: Logger) {
        self.projector = projector
        self.graceSeconds = graceSeconds
        self.logger = logger
        behind = !projector.hasReachedStart
    }

    func run() async throws {
        if behind, let start = projector.startPosition {
            logger.notice("catching up: the projections are applying the log up to \(start) (written \(RFC3339.format(milliseconds: start.timestamp))); reads answer 503 until they have")
            let began = ContinuousClock.now
            await cancelWhenGracefulShutdown {
                try? await projector.waitUntilApplied(start)
            }
            if projector.hasReachedStart {
                logger.notice("caught up in \(began.duration(to: .now).formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))): answering reads")
            }
        }
        try? await gracefulShutdown()
        logger.notice("stopping: requests in flight have up to \(graceSeconds) s to finish (CHATFLOW_SHUTDOWN_GRACE_SECONDS); WebSockets are closed with 1001")
    }
}
