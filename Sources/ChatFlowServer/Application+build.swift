import ChatFlowCore
import ChatFlowStorage
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle

/// Everything `serve` runs, built without starting a process so tests can run it on a
/// loopback port: the HTTP and WebSocket server plus the projector and live-delivery
/// services, as one ServiceLifecycle group (the projector stops last).
public func buildApplication(
    engine: ChatFlowEngine,
    configuration: ServerConfiguration,
    metrics: ServerMetrics,
    logger: Logger = Logger(label: "chatflow"),
    onServerRunning: @escaping @Sendable (_ port: Int?) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    try await buildApplication(
        engine: engine, configuration: configuration, metrics: metrics, logger: logger,
        replayGate: nil, onServerRunning: onServerRunning)
}

/// Runs `app` until SIGTERM, SIGINT or SIGHUP (a terminal closing under a `serve` started by
/// hand), then lets what is in flight finish for at most
/// `configuration.shutdownGraceSeconds`; past that its services are cancelled, which closes
/// every connection still open.
public func runUntilStopped(_ app: some ApplicationProtocol, configuration: ServerConfiguration, logger: Logger) async throws {
    // A stop reaches the services last to first: the notice speaks before the app winds down.
    let notice = StopNotice(graceSeconds: configuration.shutdownGraceSeconds, logger: logger)
    var group = ServiceGroupConfiguration(services: [app, notice], gracefulShutdownSignals: [.sigterm, .sigint, .sighup], logger: logger)
    group.maximumGracefulShutdownDuration = .seconds(configuration.shutdownGraceSeconds)
    defer { notice.ended() }
    try await ServiceGroup(configuration: group).run()
}

/// The same, with the gate replays pass (`nil`: one sized to the machine), so that a test
/// can hold replays back while it arranges what they will meet; `hubMade` sees the live hub,
/// so that a test can hand it events as late as a busy hub would.
func buildApplication(
    engine: ChatFlowEngine,
    configuration: ServerConfiguration,
    metrics: ServerMetrics,
    logger: Logger,
    replayGate: ReplayGate?,
    hubMade: (LiveHub) -> Void = { _ in },
    onServerRunning: @escaping @Sendable (_ port: Int?) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    try configuration.validate()
    let verifier = await TokenVerifier(configuration: configuration)
    let commands = ChatFlowCommands(engine: engine)
    let readiness = Readiness(log: engine.log)
    let limits = RateLimitMiddleware(
        writes: RateLimiter(rate: configuration.rateLimit, burst: configuration.rateBurst),
        reads: RateLimiter(rate: configuration.readRateLimit, burst: configuration.readRateBurst))
    let hub = LiveHub(
        commands: commands, projector: engine.projector, metrics: metrics,
        queueLimit: configuration.webSocketQueueLimit, queueBytes: configuration.webSocketQueueBytes,
        queueTotalBytes: configuration.webSocketQueueTotalBytes, perUserLimit: configuration.webSocketsPerUser,
        replayLimit: configuration.webSocketReplayLimit, closeGrace: .milliseconds(Int64(configuration.webSocketCloseGraceSeconds * 1000)), logger: logger,
        replayGate: replayGate, reads: limits.reads)
    hubMade(hub)

    let router = buildRouter(
        commands: commands, engine: engine, configuration: configuration, metrics: metrics,
        verifier: verifier, readiness: readiness, limits: limits, hub: hub)
    let connections = ConnectionLimit(maximum: configuration.maxConnections)
    let addresses = AddressConnectionLimit(maximum: configuration.httpConnectionsPerAddress)
    var app = Application(
        router: router,
        server: HTTPServerBuilder { responder in
            LiveServerChannel(responder: responder, hub: hub, verifier: verifier, reads: limits.reads, metrics: metrics, settings: .init(
                maxFrameSize: 64 * 1024,
                maxBodyBytes: configuration.maxBodyBytes,
                pingInterval: .milliseconds(Int64(configuration.webSocketPingSeconds * 1000)),
                http1: .init(idleTimeout: .seconds(Int64(configuration.httpIdleSeconds)))),
                connections: connections, addresses: addresses)
        },
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "chatflow"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port) },
        logger: logger)
    app.addServices(engine.projector, hub)
    // Also with retention off: a pass a stop interrupted is finished (its projections may be
    // pruned part way; the log holds what they no longer show).
    app.addServices(RetentionService(
        retention: Retention(days: configuration.retentionDays, log: engine.log, store: engine.store, projector: engine.projector),
        interval: .milliseconds(Int64(configuration.retentionIntervalSeconds * 1000)),
        clock: ULIDGenerator.wallClockMilliseconds, logger: logger, observe: metrics.recordRetention))
    app.addServices(LifecycleNotices(projector: engine.projector, logger: logger))
    return app
}

/// The router alone: every route of the API with its middleware.
func buildRouter(
    commands: ChatFlowCommands, engine: ChatFlowEngine, configuration: ServerConfiguration, metrics: ServerMetrics,
    verifier: TokenVerifier, readiness: Readiness, limits: RateLimitMiddleware, hub: LiveHub? = nil
) -> Router<ChatFlowRequestContext> {
    // A GET route answers HEAD too (RFC 9110 §9.3.2), without its body.
    let router = Router(context: ChatFlowRequestContext.self, options: .autoGenerateHeadEndpoints)
    router.middlewares.add(RequestIDMiddleware())
    router.middlewares.add(RequestLogMiddleware())
    router.middlewares.add(MetricsMiddleware(metrics: metrics))
    // Outside the problem middleware, so that error answers are marked for the origin too.
    if !configuration.corsOrigins.isEmpty {
        router.middlewares.add(CrossOriginMiddleware(origins: configuration.corsOrigins))
    }
    // Outside the problem middleware too: error answers carry them as well.
    router.middlewares.add(WebClientHeadersMiddleware())
    router.middlewares.add(ProblemMiddleware())
    router.middlewares.add(PathCheckMiddleware())
    router.middlewares.add(StartupGateMiddleware(projector: engine.projector))
    router.middlewares.add(AuthenticationMiddleware(verifier: verifier))
    router.middlewares.add(limits)
    if let directory = configuration.publicDirectory {
        router.middlewares.add(WholeFileMiddleware())
        router.middlewares.add(PublicFileFilterMiddleware(directory: directory))
        router.middlewares.add(FileMiddleware(directory, searchForIndexHtml: true))
    }
    OperationsController(engine: engine, metrics: metrics, readiness: readiness, hub: hub).addRoutes(to: router)
    AdminController(
        engine: engine, verifier: verifier, maxBodyBytes: configuration.maxBodyBytes,
        sidecarFiles: [ServerConfiguration.secretFileName]).addRoutes(to: router)
    ChatsController(commands: commands, maxBodyBytes: configuration.maxBodyBytes).addRoutes(to: router)
    MessagesController(commands: commands, maxBodyBytes: configuration.maxBodyBytes).addRoutes(to: router)
    // A well-formed WebSocket upgrade never reaches the router (`LiveServerChannel` takes
    // it); a plain GET or a malformed upgrade is told what to do instead.
    router.get("/ws") { request, _ -> Response in
        throw UpgradeRequestCheck.problem(in: request.headers)
            ?? ProblemDetail(.upgradeRequired, "open the WebSocket on a new connection", headers: [.upgrade: "websocket"])
    }
    // Last, after every route: it then wraps only the not-found answer, inside the file
    // middleware, and sees the whole route table. Like a 404, a 405 needs no token: the
    // method is wrong whoever asks, and the routes are public (`/openapi.yaml`).
    router.middlewares.add(MethodCheckMiddleware(routes: router.routes))
    return router
}
