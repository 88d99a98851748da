import Dispatch
import Logging
import ServiceLifecycle

/// Runs a retention pass soon after start and then every `interval`, as part of `serve`.
/// With retention off (`days` 0) it only finishes a pass that a stop interrupted.
/// A pass that finds the projector behind (still catching up after a start) goes on after
/// `behindDelay`, not at the next tick: a start that catches up on a long log would
/// otherwise leave most of a pass for an hour.
public final class RetentionService: Service, Sendable {
    private let retention: Retention
    private let interval: Duration
    private let firstDelay: Duration
    private let behindDelay: Duration
    private let clock: @Sendable () -> UInt64
    private let logger: Logger
    /// Told after each step of a pass: the events it removed, or why it failed (for metrics).
    private let observe: @Sendable (Result<Int, any Error>) -> Void
    // Passes read and write RocksDB: off the cooperative pool and the event loops.
    private let queue = DispatchQueue(label: "chatflow.retention")

    public init(
        retention: Retention, interval: Duration, firstDelay: Duration = .seconds(5), behindDelay: Duration = .seconds(5),
        clock: @escaping @Sendable () -> UInt64, logger: Logger,
        observe: @escaping @Sendable (Result<Int, any Error>) -> Void = { _ in }
    ) {
        self.retention = retention
        self.interval = interval
        self.firstDelay = firstDelay
        self.behindDelay = behindDelay
        self.clock = clock
        self.logger = logger
        self.observe = observe
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var delay = self.firstDelay
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    return
                }
                delay = await self.pass() ? self.behindDelay : self.interval
            }
        }
    }

    /// Passes until the horizon is reached. Between two of them the projector runs, so
    /// live delivery carries on while a long history is removed. Returns whether it stopped
    /// for the projector, behind the horizon.
    private func pass() async -> Bool {
        let retention = self.retention
        let now = clock()
        var removed = 0
        while !Task.isCancelled {
            let result = await withCheckedContinuation { continuation in
                queue.async { continuation.resume(returning: Result { try retention.run(now: now) }) }
            }
            observe(result.map(\.eventsRemoved))
            switch result {
            case .success(let report) where report.outcome == .pruned:
                removed += report.eventsRemoved
                if report.more {
                    logger.debug("retention removed \(report.eventsRemoved) events; more to go", metadata: [
                        "horizon": "\(RFC3339.format(milliseconds: report.horizonMilliseconds))",
                    ])
                    continue
                }
                logger.notice("retention removed \(removed) events \(retention.days > 0 ? "older than \(retention.days) days" : "finishing a pass a stop interrupted")", metadata: [
                    "horizon": "\(RFC3339.format(milliseconds: report.horizonMilliseconds))",
                ])
            case .success(let report):
                let behind = report.outcome == .projectorBehind
                if removed > 0 {
                    let rest = behind ? "; the rest follows once the projections have caught up" : ""
                    logger.notice("retention removed \(removed) events \(retention.days > 0 ? "older than \(retention.days) days" : "finishing a pass a stop interrupted")\(rest)")
                }
                return behind
            case .failure(let error):
                logger.error("retention pass failed after removing \(removed) events; it is retried at the next interval: \(error)")
            }
            return false
        }
        return false
    }
}
