import Foundation

/// How `chatflow serve` runs. The CLI fills it from flags and `CHATFLOW_*` variables:
/// - `host` (`CHATFLOW_HOST`, default 127.0.0.1), `port` (`CHATFLOW_PORT`, default 8080)
/// - `jwtSecret` (`CHATFLOW_JWT_SECRET`, at least 32 bytes; created in the data dir if unset)
/// - `jwtIssuer` / `jwtAudience` (`CHATFLOW_JWT_ISSUER` / `CHATFLOW_JWT_AUDIENCE`, checked when set)
/// - `jwtLeewaySeconds` (`CHATFLOW_JWT_LEEWAY`, default 30)
/// - `jwtMaxDays` (`CHATFLOW_JWT_MAX_DAYS`, default 366, 0 = no bound)
/// - `rateLimit` writes per second per user (`CHATFLOW_RATE_LIMIT`, default 20, 0 = off)
///   and `rateBurst` (`CHATFLOW_RATE_BURST`, default 40)
/// - `readRateLimit` reads per second per user (`CHATFLOW_READ_RATE_LIMIT`, default 50, 0 = off)
///   and `readRateBurst` (`CHATFLOW_READ_RATE_BURST`, default 200)
/// - `retentionDays` (`CHATFLOW_RETENTION_DAYS`, default 1826 = five years, 0 = keep forever)
/// - `webSocketsPerUser` (`CHATFLOW_WS_PER_USER`, default 32, 0 = no limit)
/// - `webSocketPingSeconds` (`CHATFLOW_WS_PING_SECONDS`, default 30)
/// - `webSocketReplayLimit` (`CHATFLOW_WS_REPLAY_LIMIT`, default 100,000)
/// - `webSocketQueueTotalBytes` (`CHATFLOW_WS_QUEUE_TOTAL_MB`, default 256 MiB)
/// - `httpIdleSeconds` (`CHATFLOW_HTTP_IDLE_SECONDS`, default 60)
/// - `httpConnectionsPerAddress` (`CHATFLOW_HTTP_PER_ADDRESS`, default 256, 0 = no bound)
/// - `shutdownGraceSeconds` (`CHATFLOW_SHUTDOWN_GRACE_SECONDS`, default 10)
/// - `corsOrigins` (`CHATFLOW_CORS_ORIGINS`, comma-separated, default none)
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var jwtSecret: String
    public var jwtIssuer: String?
    public var jwtAudience: String?
    public var jwtLeewaySeconds = 30
    /// A token whose `exp` is further ahead than this many days is refused (0: no bound). A
    /// token cannot be revoked short of changing the secret, so one that never expires
    /// (leaked from a log, say) would be good for ever; `chatflow token` mints none longer.
    public var jwtMaxDays = Self.defaultJWTMaxDays
    public static let defaultJWTMaxDays = 366
    /// 0 is no bound.
    public static let jwtMaxDaysRange = 0...36_600
    public var rateLimit = 20.0
    public var rateBurst = 40.0
    /// Reads (GET, HEAD, WebSocket upgrades) per second per user, in a bucket of their own. A person reading
    /// makes a few a second and a page load a few dozen at once; a search in a large chat
    /// costs milliseconds of a core, so one token reading in a loop must not take them all.
    public var readRateLimit = 50.0
    public var readRateBurst = 200.0
    /// History older than this many days is removed (0 keeps everything).
    public var retentionDays = 1826
    /// Seconds between retention passes.
    public var retentionIntervalSeconds = 3600.0
    /// Largest request body accepted, in bytes.
    public var maxBodyBytes = 64 * 1024
    /// Frames a WebSocket connection may have queued before it counts as too slow and is closed.
    public var webSocketQueueLimit = 1024
    /// Bytes of frames a WebSocket connection may have queued before it counts as too slow:
    /// a thousand of the largest messages are 60 MB.
    public var webSocketQueueBytes = Self.defaultWebSocketQueueBytes
    public static let defaultWebSocketQueueBytes = 1 << 20
    /// Bytes of frames all WebSocket connections together may have queued: past it, one
    /// holding 64 KiB of them counts as too slow (see `OutboundBudget`).
    public var webSocketQueueTotalBytes = Self.defaultWebSocketQueueTotalBytes
    public static let defaultWebSocketQueueTotalBytes = 256 << 20
    /// Seconds a closing WebSocket client has to read what is queued and the close frame
    /// (and to answer it) before its connection is dropped.
    public var webSocketCloseGraceSeconds = 5.0
    /// Seconds between pings on an idle WebSocket connection.
    public var webSocketPingSeconds = 30
    /// WebSockets one user may have open at once (0: no limit). Each costs the server memory
    /// and a file descriptor, so one token must not be able to take them all.
    public var webSocketsPerUser = 32
    /// Log events a subscription resuming with `since` may read through to catch up. The log
    /// has no per-chat index, so a `since` further behind than this is refused (the client
    /// reloads over HTTP and subscribes again) instead of scanning the log for one socket.
    public var webSocketReplayLimit = 100_000
    /// Seconds an HTTP connection may send nothing (before its first request, between
    /// keep-alive requests, or part way through a request's head or body) before it is
    /// closed, so connections that never finish asking do not hold file descriptors forever;
    /// also the most a request's body may take to come after its head (`RequestBodyDeadline`).
    /// The first request's head must come within 10 s, or this if shorter.
    /// WebSockets are kept alive by pings instead.
    public var httpIdleSeconds = 60
    /// HTTP connections (not WebSockets) one client address may hold open
    /// (`AddressConnectionLimit`; 0: no bound).
    public var httpConnectionsPerAddress = 256
    /// Seconds a stop (SIGTERM, SIGINT) waits for requests in flight before it closes every
    /// connection: a client that sent part of a request and then nothing would otherwise
    /// hold it for `httpIdleSeconds`, past a service manager's own stop timeout, whose
    /// SIGKILL skips writing the memtables out.
    public var shutdownGraceSeconds = 10
    /// Connections held at once (HTTP and WebSocket); past it a new one is answered 503 and
    /// closed. `serve` derives it from the process's open-file limit.
    public var maxConnections = Int.max

    /// `maxConnections` for a process with `descriptors` open files: all but the reserve
    /// (`descriptorReserve`). Refused below 16: a floor above what the limit allows would
    /// bring back the failure the limit is for.
    public static func maxConnections(forDescriptors descriptors: Int) throws(ConfigurationError) -> Int {
        let maximum = descriptors - descriptorReserve(descriptors)
        guard maximum >= 16 else {
            throw ConfigurationError("the open-file limit (\(descriptors)) leaves room for \(Swift.max(maximum, 0)) connections; raise it to at least 272 (ulimit -n, or LimitNOFILE in the service unit)")
        }
        return maximum
    }

    /// Table files RocksDB may keep open in a process with `descriptors` open files: the
    /// reserve less 96 for the log, the files being written and the runtime. The rest are
    /// opened again when read, and the connections can never take RocksDB's share.
    public static func openTableFiles(forDescriptors descriptors: Int) -> Int {
        descriptorReserve(descriptors) - 96
    }

    /// What connections leave to everything else: an eighth, and at least 256.
    private static func descriptorReserve(_ descriptors: Int) -> Int {
        Swift.max(256, descriptors / 8)
    }

    /// Origins of web clients served elsewhere that may call the API from a browser
    /// (`https://app.example.com`; `*` for any). None by default: only the web client
    /// served here, which is same-origin, can.
    public var corsOrigins: [String] = []
    /// The web client's static files, served at `/`: the client built into this module unless
    /// another directory is given (`nil` serves none).
    public var publicDirectory: String? = Self.bundledWebClient

    /// The directory of the web client shipped with the server, if the resource bundle is present.
    public static var bundledWebClient: String? {
        ServerResources.path("Web")
    }

    /// Where the web client and the OpenAPI document are looked for, for messages.
    public static var resourcesLocation: String {
        ServerResources.directory?.path ?? "\(ServerResources.bundleName) beside the executable"
    }

    public static let minimumSecretBytes = 32
    public static let jwtMaxDaysProblem = ConfigurationError("CHATFLOW_JWT_MAX_DAYS must be 0 (no bound) to 36600 days")
    /// The file in the data directory holding the secret `serve` created, when none is configured.
    public static let secretFileName = "jwt-secret"

    public init(jwtSecret: String) {
        self.jwtSecret = jwtSecret
    }

    /// Refuses settings the server cannot run with, saying which and why.
    public func validate() throws(ConfigurationError) {
        guard jwtSecret.utf8.count >= Self.minimumSecretBytes else {
            throw ConfigurationError("CHATFLOW_JWT_SECRET must be at least \(Self.minimumSecretBytes) bytes (it has \(jwtSecret.utf8.count)); generate one with: openssl rand -hex 32")
        }
        guard (0...65535).contains(port) else { throw ConfigurationError("port \(port) is not between 0 and 65535") }
        guard rateLimit >= 0, rateBurst >= 1 || rateLimit == 0 else {
            throw ConfigurationError("CHATFLOW_RATE_LIMIT must be ≥ 0 and CHATFLOW_RATE_BURST ≥ 1")
        }
        guard readRateLimit >= 0, readRateBurst >= 1 || readRateLimit == 0 else {
            throw ConfigurationError("CHATFLOW_READ_RATE_LIMIT must be ≥ 0 and CHATFLOW_READ_RATE_BURST ≥ 1")
        }
        guard retentionDays >= 0, retentionDays <= 100 * 366 else {
            throw ConfigurationError("CHATFLOW_RETENTION_DAYS must be 0 (keep forever) or a number of days up to 36600")
        }
        guard (1...3600).contains(webSocketPingSeconds) else {
            throw ConfigurationError("CHATFLOW_WS_PING_SECONDS must be 1–3600 seconds (a peer silent for two intervals is dropped)")
        }
        guard webSocketsPerUser >= 0 else {
            throw ConfigurationError("CHATFLOW_WS_PER_USER must be 0 (no limit) or a positive number of connections")
        }
        guard webSocketQueueTotalBytes > 0, webSocketQueueTotalBytes <= 1 << 40 else {
            throw ConfigurationError("CHATFLOW_WS_QUEUE_TOTAL_MB must be 1–1048576 (MiB of frames all WebSockets together may have waiting)")
        }
        guard (1...100_000_000).contains(webSocketReplayLimit) else {
            throw ConfigurationError("CHATFLOW_WS_REPLAY_LIMIT must be 1–100000000 log events")
        }
        guard (1...3600).contains(httpIdleSeconds) else {
            throw ConfigurationError("CHATFLOW_HTTP_IDLE_SECONDS must be 1–3600 seconds")
        }
        guard (1...300).contains(shutdownGraceSeconds) else {
            throw ConfigurationError("CHATFLOW_SHUTDOWN_GRACE_SECONDS must be 1–300 seconds")
        }
        if let bad = corsOrigins.first(where: { CrossOriginMiddleware.canonical($0) == nil }) {
            throw ConfigurationError("CHATFLOW_CORS_ORIGINS: '\(bad)' is not an origin; give http or https, the host and any port, without a path, trailing slash, query or user (https://app.example.com, http://localhost:3000), or * for any")
        }
        guard jwtLeewaySeconds >= 0, jwtLeewaySeconds <= 300 else {
            throw ConfigurationError("CHATFLOW_JWT_LEEWAY must be 0–300 seconds")
        }
        guard Self.jwtMaxDaysRange.contains(jwtMaxDays) else { throw Self.jwtMaxDaysProblem }
        if let publicDirectory {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: publicDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ConfigurationError("CHATFLOW_PUBLIC_DIR (--public-dir): \(publicDirectory) is not a directory")
            }
        }
        guard httpConnectionsPerAddress >= 0 else {
            throw ConfigurationError("CHATFLOW_HTTP_PER_ADDRESS must be 0 (no bound) or more")
        }
        guard maxConnections >= 1 else { throw ConfigurationError("the connection limit must be at least 1") }
    }
}

/// A setting the server cannot start with.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
