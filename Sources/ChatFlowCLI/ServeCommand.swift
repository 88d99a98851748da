import ArgumentParser
import ChatFlowCore
import ChatFlowServer
import ChatFlowStorage
import Foundation
import Logging
import Metrics
import Prometheus

/// `chatflow serve`: the HTTP and WebSocket server with its projector workers.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the server (HTTP API, WebSocket live delivery, projector workers)."
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(help: "Address to listen on (default: $CHATFLOW_HOST or 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (default: $CHATFLOW_PORT or 8080).")
    var port: Int?

    @Option(help: "Directory of the web client's static files, served at / (default: $CHATFLOW_PUBLIC_DIR, else the built-in client).")
    var publicDir: String?

    func run() async throws {
        let environment = Environment()
        let logger: Logger
        switch Result(catching: { () throws(ConfigurationError) -> Logger in try LogSetup.configure(environment) }) {
        case .success(let configured):
            logger = configured
        case .failure(let error):
            FileHandle.standardError.write(Data("cannot start: \(error.description)\n".utf8))
            throw ExitCode(78)
        }
        var configuredPort = port ?? 8080
        do {
            // The soft open-file limit (often 1,024) raised to the hard one.
            let descriptors = FileDescriptorLimit.raise()
            // Said before anything is written there: the JWT secret made next would be root's too.
            if let owner = Directory.otherOwner(of: data.path) { throw StorageError.ownedByAnotherUser(path: data.path, owner: owner) }
            let (configuration, createdSecret) = try serverConfiguration(environment, descriptors: descriptors)
            configuredPort = configuration.port
            if createdSecret {
                logger.notice("created a JWT secret in \(data.path)/jwt-secret (set CHATFLOW_JWT_SECRET to use your own)")
            }
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            let metrics = ServerMetrics(registry: registry)
            metrics.noteDescriptorLimit(descriptors)
            var logOptions = ChangeLogOptions()
            logOptions.onCommit = { metrics.recordCommit($0) }
            let reserve = try environment.integer("CHATFLOW_DISK_RESERVE_MB") ?? 256
            guard (1...1_048_576).contains(reserve) else {
                throw ConfigurationError("CHATFLOW_DISK_RESERVE_MB must be 1–1048576 (MiB kept free: RocksDB cannot recover by itself from a log write on a full disk)")
            }
            logOptions.onWaitingForSpace = { waiting in
                if waiting {
                    logger.error("refusing writes: the disk filled up under a write; the store takes writes again once it has room (RocksDB recovers once a whole write buffer, 64 MiB, is free)")
                } else {
                    logger.notice("accepting writes again: the store has recovered from the full disk")
                }
            }
            logOptions.diskGuard = DiskSpaceGuard(path: data.path, reserveBytes: UInt64(reserve) << 20) { problem in
                if let problem { logger.warning("refusing writes: \(problem)") } else { logger.notice("accepting writes again: the disk has room") }
            }
            var databaseOptions = DatabaseOptions()
            let cache = try environment.integer("CHATFLOW_CACHE_MB") ?? 256
            guard (8...1_048_576).contains(cache) else { throw ConfigurationError("CHATFLOW_CACHE_MB must be 8–1048576 (MiB of block cache)") }
            databaseOptions.blockCacheBytes = cache << 20
            databaseOptions.maxOpenFiles = Int32(clamping: ServerConfiguration.openTableFiles(forDescriptors: descriptors))
            // RocksDB's own messages in the server's log: its flushes and compactions as
            // debug detail, its warnings and failures as such.
            databaseOptions.diagnostics = DatabaseDiagnostics(minimumLevel: logger.logLevel <= .debug ? .info : .warning) { [logger] level, message in
                switch level {
                case .debug, .info: logger.debug("rocksdb: \(message)")
                // Said on every online backup (a checkpoint while another holds deletions off,
                // and its end while the other still does): nothing wrong.
                case .warning where message.contains("File Deletions Disabled, but already disabled")
                    || message.contains("File Deletions Enable, but not really enabled"): logger.debug("rocksdb: \(message)")
                case .warning: logger.warning("rocksdb: \(message)")
                case .error, .fatal: logger.error("rocksdb: \(message)")
                }
            }
            let engine = try ChatFlowEngine(dataDirectory: data.path, logOptions: logOptions, databaseOptions: databaseOptions, logger: logger)
            defer {
                if let failure = engine.close() {
                    logger.warning("stopped without writing memory to table files (\(failure.description)): nothing is lost, the next start replays the write-ahead log")
                } else {
                    logger.notice("stopped: the database is closed, with everything in memory written to table files")
                }
            }
            if let damage = engine.walDamageReport { logger.critical("\(damage)") }
            // A disk already short of room is said at the start, not at the first write.
            _ = engine.log.diskGuard?.problem
            for (name, stored, version) in engine.store.restarted {
                if engine.rebuiltAtOpening.contains(name) {
                    logger.notice("projection \(name) was built by version \(stored); this build has version \(version): it was rebuilt from the log while the data directory opened")
                } else {
                    // Reads wait for it (503, /readyz) until it has the log up to this start.
                    logger.notice("projection \(name) was built by version \(stored); this build has version \(version): building it again from the log")
                }
            }
            // Ids are stamped with the clock but never go back: behind the newest one, new
            // events carry its time until the clock passes it.
            if let newest = engine.log.lastPosition?.timestamp, case let now = ULIDGenerator.wallClockMilliseconds(), newest > now + 1000 {
                logger.warning("the system clock is \((newest - now) / 1000) s behind the newest event in the log: new events are stamped with that event's time until the clock passes it; check the clock")
            }
            if let mode = Directory.openToOthers(data.path) {
                logger.warning("the data directory \(data.path) can be read by other users (mode \(String(mode, radix: 8))); it holds every private message: chmod -R go= it")
            }
            if configuration.publicDirectory == nil {
                logger.warning("the web client was not found (\(ServerConfiguration.resourcesLocation)); serving the API only")
            }
            // An IPv6 address goes in brackets in a URL.
            let host = configuration.host.contains(":") && !configuration.host.hasPrefix("[") ? "[\(configuration.host)]" : configuration.host
            let app = try await buildApplication(engine: engine, configuration: configuration, metrics: metrics, logger: logger) { port in
                // Said once the socket is bound, so that it means the server is up.
                logger.notice("serving on http://\(host):\(port ?? configuration.port) with data in \(data.path)", metadata: ["version": "\(ChatFlowVersion.description)"])
            }
            do {
                try await runUntilStopped(app, configuration: configuration, logger: logger)
            } catch let error as StorageError {
                // Met while serving (a damaged block, an event this build cannot read): the
                // projections cannot go past it.
                logger.critical("stopped: \(error.description)")
                throw ExitCode(74)
            }
        } catch let error as ConfigurationError {
            logger.critical("cannot start: \(error.description)")
            throw ExitCode(78)
        } catch let error as StorageError {
            logger.critical("cannot start: \(error.description)")
            throw ExitCode(74)
        } catch let error where "\(error)".contains("Address already in use") {
            logger.critical("cannot start: port \(configuredPort) is already in use; stop the other process or choose --port")
            throw ExitCode(75)
        } catch let error where "\(error)".contains("UnknownHost") || "\(error)".contains("Cannot assign requested address") {
            logger.critical("cannot start: cannot listen on CHATFLOW_HOST/--host: \(error)")
            throw ExitCode(78)
        }
    }

    func serverConfiguration(_ environment: Environment, descriptors: Int) throws -> (ServerConfiguration, Bool) {
        let (secret, created) = try environment.jwtSecret(dataDirectory: data.path, create: true)
        var configuration = ServerConfiguration(jwtSecret: secret)
        configuration.host = host ?? environment["CHATFLOW_HOST"] ?? "127.0.0.1"
        configuration.port = try port ?? environment.integer("CHATFLOW_PORT") ?? 8080
        configuration.jwtIssuer = environment["CHATFLOW_JWT_ISSUER"]
        configuration.jwtAudience = environment["CHATFLOW_JWT_AUDIENCE"]
        configuration.jwtLeewaySeconds = try environment.integer("CHATFLOW_JWT_LEEWAY") ?? 30
        configuration.jwtMaxDays = try environment.jwtMaxDays()
        configuration.httpConnectionsPerAddress = try environment.integer("CHATFLOW_HTTP_PER_ADDRESS") ?? 256
        configuration.rateLimit = try environment.number("CHATFLOW_RATE_LIMIT") ?? 20
        configuration.rateBurst = try environment.number("CHATFLOW_RATE_BURST") ?? 40
        configuration.readRateLimit = try environment.number("CHATFLOW_READ_RATE_LIMIT") ?? configuration.readRateLimit
        configuration.readRateBurst = try environment.number("CHATFLOW_READ_RATE_BURST") ?? configuration.readRateBurst
        configuration.retentionDays = try environment.integer("CHATFLOW_RETENTION_DAYS") ?? 1826
        configuration.webSocketsPerUser = try environment.integer("CHATFLOW_WS_PER_USER") ?? 32
        configuration.webSocketPingSeconds = try environment.integer("CHATFLOW_WS_PING_SECONDS") ?? 30
        configuration.webSocketReplayLimit = try environment.integer("CHATFLOW_WS_REPLAY_LIMIT") ?? 100_000
        if let megabytes = try environment.integer("CHATFLOW_WS_QUEUE_TOTAL_MB") {
            guard (1...1_048_576).contains(megabytes) else {
                throw ConfigurationError("CHATFLOW_WS_QUEUE_TOTAL_MB must be 1–1048576 (MiB of frames all WebSockets together may have waiting)")
            }
            configuration.webSocketQueueTotalBytes = megabytes << 20
        }
        configuration.httpIdleSeconds = try environment.integer("CHATFLOW_HTTP_IDLE_SECONDS") ?? 60
        configuration.shutdownGraceSeconds = try environment.integer("CHATFLOW_SHUTDOWN_GRACE_SECONDS") ?? 10
        configuration.corsOrigins = (environment["CHATFLOW_CORS_ORIGINS"] ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        configuration.publicDirectory = publicDir ?? environment["CHATFLOW_PUBLIC_DIR"] ?? ServerConfiguration.bundledWebClient
        // Connections kept to what the open-file limit (raised to the hard one) leaves room for.
        configuration.maxConnections = try ServerConfiguration.maxConnections(forDescriptors: descriptors)
        try configuration.validate()
        return (configuration, created)
    }
}
