import ChatFlowCore
import Logging
import ServiceLifecycle

/// Says in the log what an operator waits on after a start: the projections catching up
/// with the log (reads answer 503 until they have), which takes the better part of a
/// minute on a large log. The log was silent through it. (`StopNotice` speaks for a stop.)
struct LifecycleNotices: Service {
    let projector: Projector
    let logger: Logger
    /// Whether the projections lacked part of the log when the server was built, before
    /// the projector could start on it (a short one may be applied before `run` begins).
    private let behind: Bool

    init(projector: Projector, logger: Logger) {
        self.projector = projector
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
    }
}
