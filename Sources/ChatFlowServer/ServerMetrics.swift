import ChatFlowCore
import ChatFlowStorage
import Foundation
import Prometheus
import Synchronization

/// The server's Prometheus metrics, kept in one registry that `/metrics` renders.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let requestDurations = Mutex<[String: DurationHistogram]>([:])
    private let requestCounts = Mutex<[String: Counter]>([:])
    private let refusedUpgrades = Mutex<[Int: Counter]>([:])
    /// The CPU time `process_cpu_seconds_total` has counted up to.
    private let countedCPUSeconds = Mutex<Double>(0)
    let appendDuration: DurationHistogram
    let groupCommitEvents: ValueHistogram
    let openConnections: Gauge
    let deliveries: Counter
    let slowClientCloses: Counter
    /// Replays of missed events (subscribes with `since`) reading the log, and waiting their
    /// turn at the `ReplayGate`.
    let replaysRunning: Gauge
    let replaysWaiting: Gauge
    /// Replays that read on from the log because more live events came meanwhile than
    /// could be held for them.
    let replayCatchUps: Counter
    /// Turns long replays gave up to other users' waiting replays.
    let replayTurnsGiven: Counter
    let retentionRemoved: Counter
    let retentionFailures: Counter

    static let latencyBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2.5),
    ]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        // Which build answers, and since when: a restart or an upgrade shows on a dashboard.
        registry.makeGauge(
            descriptor: Self.named("chatflow_build_info", "Always 1; its labels say which ChatFlow runs"),
            labels: [("version", ChatFlowVersion.release), ("projections", ChatFlowVersion.projections)])
            .set(to: 1)
        registry.makeGauge(descriptor: Self.named("process_start_time_seconds", "Start time of the process since unix epoch in seconds"))
            .set(to: ProcessStatistics.startTime() ?? Date().timeIntervalSince1970)
        appendDuration = registry.makeDurationHistogram(
            descriptor: Self.named("chatflow_append_duration_seconds", "Time to write and fsync one group commit of the change log"),
            buckets: Self.latencyBuckets)
        groupCommitEvents = registry.makeValueHistogram(
            descriptor: Self.named("chatflow_group_commit_events", "Events written per group commit"),
            buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096])
        openConnections = registry.makeGauge(descriptor: Self.named("chatflow_websocket_connections", "Open WebSocket connections"))
        deliveries = registry.makeCounter(descriptor: Self.named("chatflow_websocket_deliveries_total", "Event frames queued to WebSocket clients"))
        slowClientCloses = registry.makeCounter(descriptor: Self.named(
            "chatflow_websocket_slow_client_closes_total", "Connections closed because their outbound queue was full"))
        replaysRunning = registry.makeGauge(descriptor: Self.named(
            "chatflow_websocket_replays_running", "Subscriptions with since reading the events they missed from the log"))
        replaysWaiting = registry.makeGauge(descriptor: Self.named(
            "chatflow_websocket_replays_waiting", "Subscriptions with since waiting for their turn to read the log"))
        replayCatchUps = registry.makeCounter(descriptor: Self.named(
            "chatflow_websocket_replay_catch_ups_total",
            "Replays that read on from the log because more events came meanwhile than a queue holds"))
        replayTurnsGiven = registry.makeCounter(descriptor: Self.named(
            "chatflow_websocket_replay_turns_given_total",
            "Times a replay let another user's waiting replay go first: after a page of the log, or while its client had yet to take what it was sent"))
        retentionRemoved = registry.makeCounter(descriptor: Self.named(
            "chatflow_retention_events_removed_total", "Events removed from the change log and projections by retention"))
        retentionFailures = registry.makeCounter(descriptor: Self.named(
            "chatflow_retention_pass_failures_total", "Retention passes that failed (each is retried at the next interval)"))
    }

    /// For `RetentionService`'s observer.
    public func recordRetention(_ result: Result<Int, any Error>) {
        switch result {
        case .success(let removed): retentionRemoved.increment(by: Int64(removed))
        case .failure: retentionFailures.increment()
        }
    }

    /// For `ChangeLogOptions.onCommit`.
    public func recordCommit(_ statistics: GroupCommitStatistics) {
        appendDuration.recordNanoseconds(Int64(statistics.writeNanoseconds))
        groupCommitEvents.record(Double(statistics.events))
    }

    /// A WebSocket upgrade answered with `status` instead of being accepted (these never
    /// reach the router, so `chatflow_http_requests_total` does not count them).
    func recordRefusedUpgrade(status: Int) {
        let counter = refusedUpgrades.withLock { counters in
            if let existing = counters[status] { return existing }
            let made = registry.makeCounter(
                descriptor: Self.named("chatflow_websocket_upgrades_refused_total", "WebSocket upgrades refused, by the status they were answered with"),
                labels: [("status", String(status))])
            counters[status] = made
            return made
        }
        counter.increment()
    }

    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        let durationKey = method + " " + route
        let histogram = requestDurations.withLock { histograms in
            if let existing = histograms[durationKey] { return existing }
            let made = registry.makeDurationHistogram(
                descriptor: Self.named("chatflow_http_request_duration_seconds", "HTTP request latency by route"),
                labels: [("route", route), ("method", method)], buckets: Self.latencyBuckets)
            histograms[durationKey] = made
            return made
        }
        histogram.record(duration)
        let countKey = durationKey + " \(status)"
        let counter = requestCounts.withLock { counters in
            if let existing = counters[countKey] { return existing }
            let made = registry.makeCounter(
                descriptor: Self.named("chatflow_http_requests_total", "HTTP requests by route and status"),
                labels: [("route", route), ("method", method), ("status", String(status))])
            counters[countKey] = made
            return made
        }
        counter.increment()
    }

    /// The open-file limit `serve` raised itself to: what `process_open_fds` is measured
    /// against (connections are capped below it).
    public func noteDescriptorLimit(_ limit: Int) {
        registry.makeGauge(descriptor: Self.named("process_max_fds", "Maximum number of open file descriptors"))
            .set(to: Double(limit))
    }

    /// The process's CPU time, resident memory and open descriptors, refreshed at each scrape.
    func updateProcess() {
        if let cpu = ProcessStatistics.cpuSeconds() {
            // A counter, as Prometheus's convention for it says (rate() over a gauge warns):
            // it goes up by what the process used since the last scrape.
            let used = countedCPUSeconds.withLock { counted in
                defer { counted = Swift.max(counted, cpu) }
                return Swift.max(0, cpu - counted)
            }
            registry.makeCounter(descriptor: Self.named("process_cpu_seconds_total", "Total user and system CPU time spent in seconds"))
                .increment(by: used)
        }
        if let resident = ProcessStatistics.residentBytes() {
            registry.makeGauge(descriptor: Self.named("process_resident_memory_bytes", "Resident memory size in bytes"))
                .set(to: Double(resident))
        }
        if let descriptors = ProcessStatistics.openDescriptors() {
            registry.makeGauge(descriptor: Self.named("process_open_fds", "Number of open file descriptors"))
                .set(to: Double(descriptors))
        }

    }

    /// Projector lag per projection, in seconds of log time (Prometheus's base unit),
    /// refreshed at each scrape.
    func updateLag(projector: Projector) {
        let newest = projector.log.lastPosition?.timestamp ?? 0
        for (name, checkpoint) in projector.checkpoints {
            let lag = newest > (checkpoint?.timestamp ?? 0) ? newest - (checkpoint?.timestamp ?? 0) : 0
            registry.makeGauge(
                descriptor: Self.named("chatflow_projector_lag_seconds", "How far each projection is behind the newest event, in seconds of log time"),
                labels: [("projection", name)])
                .set(to: Double(lag) / 1000)
        }
    }

    /// Whether writes are refused and why, the data disk's free space and the retention
    /// horizon, refreshed at each scrape (the same checks `/readyz` makes, as numbers an
    /// alert can watch).
    func updateStore(log: RocksDBChangeLog, database: Database) {
        let diskFull = log.diskGuard?.problem != nil || log.isWaitingForSpace
        for (reason, refused) in [("disk_full", diskFull), ("store_failed", log.writeFailure != nil)] {
            registry.makeGauge(
                descriptor: Self.named("chatflow_writes_refused", "1 while writes are refused, by reason (as /readyz reports it)"),
                labels: [("reason", reason)])
                .set(to: refused ? 1 : 0)
        }
        if let free = log.diskGuard?.freeBytes {
            registry.makeGauge(descriptor: Self.named("chatflow_disk_free_bytes", "Bytes free for the server on the data directory's filesystem"))
                .set(to: Double(free))
        }
        if let horizon = try? RetentionState.horizon(in: database) {
            registry.makeGauge(descriptor: Self.named(
                "chatflow_retention_horizon_seconds", "Unix time before which retention removed messages (absent until it first did)"))
                .set(to: Double(horizon.timestamp) / 1000)
        }
    }

    /// WebSocket subscriptions by kind of channel, refreshed at each scrape.
    func updateSubscriptions(hub: LiveHub) {
        let counts = hub.subscriptionCounts
        for (channel, count) in [("chat", counts.chats), ("notifications", counts.notifications)] {
            registry.makeGauge(
                descriptor: Self.named("chatflow_websocket_subscriptions", "Live subscriptions, by kind of channel"),
                labels: [("channel", channel)])
                .set(to: Double(count))
        }
        registry.makeGauge(descriptor: Self.named(
            "chatflow_websocket_queued_bytes", "Bytes of frames waiting for WebSocket clients to take them, all connections together"))
            .set(to: Double(hub.queuedBytes))
    }

    /// A metric's whole name (no unit suffix added) and its help text, as the registry takes them.
    private static func named(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
