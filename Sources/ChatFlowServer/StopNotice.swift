import Logging
import ServiceLifecycle
import Synchronization

/// Says in the log, as a stop begins, that requests in flight have their grace period, and
/// keeps when it began, so that the end can say whether the grace ran out.
/// It runs beside the application rather than in it: the application stops its HTTP server
/// first and waits out the grace there, so a notice of its own came only at the end.
final class StopNotice: Service, Sendable {
    let graceSeconds: Int
    let logger: Logger
    private let began = Mutex<ContinuousClock.Instant?>(nil)

    init(graceSeconds: Int, logger: Logger) {
        self.graceSeconds = graceSeconds
        self.logger = logger
    }

    func run() async throws {
        // Cancelled rather than shut down gracefully: the start failed (a port in use), or
        // the grace ran out; neither is this stop.
        do { try await gracefulShutdown() } catch { return }
        began.withLock { $0 = .now }
        logger.notice("stopping: requests in flight have up to \(graceSeconds) s to finish (CHATFLOW_SHUTDOWN_GRACE_SECONDS); WebSockets are closed with 1001")
    }

    /// Called once the services have stopped: an operator reading the log can tell a stop
    /// that cut requests off from one that let them finish.
    func ended() {
        guard let began = began.withLock({ $0 }) else { return }
        let took = ContinuousClock.now - began
        if took >= .seconds(graceSeconds) {
            logger.warning("the grace period of \(graceSeconds) s ran out: requests and WebSockets still open were cut off")
        } else {
            logger.notice("every request in flight finished")
        }
    }
}
