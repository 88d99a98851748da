import Logging
import ServiceLifecycle

/// Says in the log, as a stop begins, that requests in flight have their grace period.
/// It runs beside the application rather than in it: the application stops its HTTP server
/// first and waits out the grace there, so a notice of its own came only at the end.
struct StopNotice: Service {
    let graceSeconds: Int
    let logger: Logger

    func run() async throws {
        // Cancelled rather than shut down gracefully: the start failed (a port in use), or
        // the grace ran out; neither is this stop.
        do { try await gracefulShutdown() } catch { return }
        logger.notice("stopping: requests in flight have up to \(graceSeconds) s to finish (CHATFLOW_SHUTDOWN_GRACE_SECONDS); WebSockets are closed with 1001")
    }
}
