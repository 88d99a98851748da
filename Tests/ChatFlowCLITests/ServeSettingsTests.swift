import Foundation
import Testing
import ChatFlowTestSupport
import ChatFlowCore
import ChatFlowStorage

/// `serve` refuses settings it cannot honour with the exit codes `ops/chatflow.service`
/// documents (78: configuration, 75: port taken), saying which setting and why, and never
/// claims to be serving when it is not.
@Suite(.timeLimit(.minutes(2))) struct ServeSettingsTests {
    private func refusal(_ environment: [String: String], dataDirectory: String, errors: String, port: Int? = nil) async throws -> (Int32, String) {
        var arguments = ["serve", "--data-dir", dataDirectory]
        if let port { arguments += ["--port", "\(port)"] }
        let child = try ChildProcess(arguments, environment: Serve.environment.merging(environment) { $1 }, errorFile: errors)
        let status = await child.exitStatus()
        return (status, (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")
    }

    @Test func badLogSettingsAnUnreadableSecretAndATakenPortAreRefused() async throws {
        let dir = TemporaryDirectory("chatflow-serve-settings")
        defer { dir.remove() }
        let data = dir.appending("data")

        let (level, levelText) = try await refusal(["CHATFLOW_LOG_LEVEL": "verbose"], dataDirectory: data, errors: dir.appending("level.err"))
        #expect(level == 78 && levelText.contains("CHATFLOW_LOG_LEVEL"), "\(level) \(levelText)")
        let (format, formatText) = try await refusal(["CHATFLOW_LOG_FORMAT": "xml"], dataDirectory: data, errors: dir.appending("format.err"))
        #expect(format == 78 && formatText.contains("CHATFLOW_LOG_FORMAT"), "\(format) \(formatText)")
        let (cache, cacheText) = try await refusal(["CHATFLOW_CACHE_MB": "4"], dataDirectory: data, errors: dir.appending("cache.err"))
        #expect(cache == 78 && cacheText.contains("CHATFLOW_CACHE_MB"), "\(cache) \(cacheText)")
        // A rate Double would read but a person would not write as one: inf turned limiting off.
        for rate in ["inf", "1e3", "0x10", "nan", "-1"] {
            let (status, text) = try await refusal(["CHATFLOW_RATE_LIMIT": rate], dataDirectory: data, errors: dir.appending("rate.err"))
            #expect(status == 78 && text.contains("CHATFLOW_RATE_LIMIT"), "\(rate): \(status) \(text)")
        }
        let (cors, corsText) = try await refusal(["CHATFLOW_CORS_ORIGINS": "https://app.example.com, app.example.com"], dataDirectory: data, errors: dir.appending("cors.err"))
        #expect(cors == 78 && corsText.contains("'app.example.com' is not an origin"), "\(cors) \(corsText)")
        // A reserve no disk has (its bytes overflowed), and a web client directory that is not there.
        let (reserve, reserveText) = try await refusal(["CHATFLOW_DISK_RESERVE_MB": "99999999999999"], dataDirectory: data, errors: dir.appending("reserve.err"))
        #expect(reserve == 78 && reserveText.contains("CHATFLOW_DISK_RESERVE_MB must be 1–1048576"), "\(reserve) \(reserveText)")
        let (publicDirectory, publicText) = try await refusal(["CHATFLOW_PUBLIC_DIR": dir.appending("no-such-client")], dataDirectory: data, errors: dir.appending("public.err"))
        #expect(publicDirectory == 78 && publicText.contains("no-such-client is not a directory"), "\(publicDirectory) \(publicText)")

        // A secret file that cannot be read is reported, never replaced by a new secret.
        let secretless = dir.appending("secretless")
        try FileManager.default.createDirectory(atPath: secretless + "/jwt-secret", withIntermediateDirectories: true)
        let (secret, secretText) = try await refusal(["CHATFLOW_JWT_SECRET": ""], dataDirectory: secretless, errors: dir.appending("secret.err"))
        #expect(secret == 78 && secretText.contains("cannot read the JWT secret"), "\(secret) \(secretText)")
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: secretless + "/jwt-secret", isDirectory: &isDirectory) && isDirectory.boolValue)
        // One too short is said of the file, not of the variable that is not set.
        let shortSecret = dir.appending("short-secret")
        try FileManager.default.createDirectory(atPath: shortSecret, withIntermediateDirectories: true)
        try Data("short\n".utf8).write(to: URL(fileURLWithPath: shortSecret + "/jwt-secret"))
        let (short, shortText) = try await refusal(["CHATFLOW_JWT_SECRET": ""], dataDirectory: shortSecret, errors: dir.appending("short.err"))
        #expect(short == 78 && shortText.contains("the JWT secret in \(shortSecret)/jwt-secret must be at least 32 bytes"), "\(short) \(shortText)")

        // A file where the data directory should be, with no secret set: said in words (74).
        let file = dir.appending("a-file")
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let (notDirectory, notDirectoryText) = try await refusal(["CHATFLOW_JWT_SECRET": ""], dataDirectory: file, errors: dir.appending("file.err"))
        #expect(notDirectory == 74 && notDirectoryText.contains("is not a directory"), "\(notDirectory) \(notDirectoryText)")

        let (server, port) = try await Serve.start(dataDirectory: data)
        defer { _ = server.stop(with: SIGTERM) }
        let (taken, takenText) = try await refusal(["CHATFLOW_PORT": "\(port)"], dataDirectory: dir.appending("other"), errors: dir.appending("port.err"))
        #expect(taken == 75 && takenText.contains("port \(port) is already in use"), "\(taken) \(takenText)")
        #expect(!takenText.contains("serving on"), "a server that did not start must not say it is serving: \(takenText)")
    }
    /// An event this build cannot read (a newer version wrote it, or the log is damaged)
    /// stops `serve` and fails `verify` with 74, naming the event, as damage found while
    /// opening does; `verify --json` says so on stdout. They exited 1 with the codec's words.
    /// `--version` says the release and each projection's version (which decides whether a
    /// data directory's projection starts again from the log), as `serve`'s "serving on" line does.
    @Test func theVersionNamesTheProjections() async throws {
        let child = try ChildProcess(["--version"])
        #expect(await child.exitStatus() == 0)
        #expect(child.lines.joined() == ChatFlowVersion.description)
        #expect(ChatFlowVersion.description.contains("reactions \(ReactionsProjection.version)"))
    }

    /// At debug level each request answered is one line: method, path, status, time, and
    /// the request id of its other lines; never the query (a WebSocket's `access_token`).
    @Test func debugLogsEachRequestWithoutItsQuery() async throws {
        let dir = TemporaryDirectory("chatflow-serve-request-log")
        defer { dir.remove() }
        let log = dir.appending("serve.err")
        let (server, port) = try await Serve.start(dataDirectory: dir.appending("data"), environment: ["CHATFLOW_LOG_LEVEL": "debug"], errorFile: log)
        defer { _ = server.stop(with: SIGTERM) }
        let client = APIClient(port: port, token: nil)
        defer { client.invalidate() }
        #expect(try await client.call("GET", "/healthz").status == 200)
        #expect(try await client.call("GET", "/chats?access_token=secret-looking-query").status == 401)
        let logged = await eventually(timeout: .seconds(10)) {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.contains("GET /healthz 200 in ") && text.contains("GET /chats 401 in ")
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(logged, "\(text.suffix(2000))")
        #expect(!text.contains("secret-looking-query"))
    }

    @Test func anEventThisVersionCannotReadIsDamageThatNamesIt() async throws {
        let dir = TemporaryDirectory("chatflow-unreadable-event")
        defer { dir.remove() }
        let data = dir.appending("data")
        let unreadable: ULID
        do {
            let engine = try ChatFlowEngine(dataDirectory: data)
            defer { engine.close() }
            // Format version 1, kind 127: none this build knows.
            unreadable = try #require(try await engine.log.append([1, 127, 0, 0]).ids.first)
        }
        let verify = try ChildProcess(["verify", "--data-dir", data, "--json"], errorFile: dir.appending("verify.err"))
        #expect(await verify.exitStatus() == 74)
        let said = (try? String(contentsOfFile: dir.appending("verify.err"), encoding: .utf8)) ?? ""
        #expect(said.contains("event \(unreadable) of the change log cannot be read by this version"), "\(said)")
        let report = try #require(verify.lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any], "\(verify.lines)")
        #expect(report["equal"] as? Bool == false && (report["error"] as? String)?.contains("event \(unreadable)") == true, "\(report)")

        let (stopped, log) = try await refusal([:], dataDirectory: data, errors: dir.appending("serve.err"), port: try Serve.freePort())
        #expect(stopped == 74 && log.contains("event \(unreadable) of the change log cannot be read"), "\(stopped) \(log)")
    }

    /// A binary copied without the resource bundle beside it (the web client and the
    /// OpenAPI document) still runs: `token` works, and `serve` serves the API only and says
    /// so. Before, every command stopped the process on reaching for the bundle.
    @Test func aBinaryWithoutItsResourcesServesTheAPIOnly() async throws {
        let dir = TemporaryDirectory("chatflow-no-resources")
        defer { dir.remove() }
        let executable = dir.appending("chatflow")
        // Copied by `cp`: a copy written here leaves its descriptor open in this process for
        // a moment, and a child another test forks meanwhile inherits it, so exec would fail
        // with "text file busy".
        let copy = try ChildProcess([ChildProcess.binary, executable], executable: "/bin/cp")
        #expect(await copy.exitStatus() == 0)
        let minted = try ChildProcess(["token", "--user", "alice", "--data-dir", dir.appending("data")], environment: Serve.environment, executable: executable)
        #expect(await minted.exitStatus() == 0)
        let token = try #require(minted.lines.last { !$0.isEmpty })

        let port = try Serve.freePort()
        let errors = dir.appending("serve.err")
        let server = try ChildProcess(["serve", "--data-dir", dir.appending("data"), "--port", "\(port)"], environment: Serve.environment, errorFile: errors, executable: executable)
        defer { _ = server.stop(with: SIGTERM) }
        let client = APIClient(port: port, token: token)
        defer { client.invalidate() }
        #expect(await eventually(timeout: .seconds(60)) { (try? await client.call("GET", "/healthz").status) == 200 })
        #expect(try await client.call("GET", "/chats").status == 200, "the API is served")
        #expect(try await client.call("GET", "/").status == 404, "no web client to serve")
        #expect(try String(contentsOfFile: errors, encoding: .utf8).contains("the web client was not found"))
    }
    /// A log whose newest event is ahead of the system clock (the clock was stepped back, or
    /// the data came from a machine whose clock ran ahead): `serve` says so at start, and new
    /// events still sort after it, carrying its time until the clock passes it.
    @Test func aClockBehindTheLogIsWarnedOfAndIdsStillGoForward() async throws {
        let dir = TemporaryDirectory("chatflow-clock-behind")
        defer { dir.remove() }
        let data = dir.appending("data")
        let hourAhead = UInt64(Date().timeIntervalSince1970 * 1000) + 3_600_000
        let futureChat: ULID
        do {
            var options = ChangeLogOptions()
            options.clock = { hourAhead }
            let engine = try ChatFlowEngine(dataDirectory: data, logOptions: options)
            defer { engine.close() }
            futureChat = try await engine.log.append(EventCodec.encode(EventEnvelope(
                actor: UserID(unchecked: "alice"), event: .chatCreated(.init(name: "from the future", description: "", isPrivate: false))))).ids[0]
            try engine.projector.catchUp()
        }
        let token = try await Serve.token(user: "alice", dataDirectory: data)
        let errors = dir.appending("serve.err")
        let (server, port) = try await Serve.start(dataDirectory: data, errorFile: errors)
        defer { _ = server.stop(with: SIGTERM) }
        let log = try String(contentsOfFile: errors, encoding: .utf8)
        let behind = log.firstMatch(of: /the system clock is (\d+) s behind the newest event in the log/).flatMap { Int($0.1) }
        #expect(behind.map { (3_000...3_600).contains($0) } == true, "\(log)")

        let client = APIClient(port: port, token: token)
        defer { client.invalidate() }
        let reply = try await client.call("POST", "/chats/\(futureChat)/messages", json: Serve.postBody("after the step back"))
        #expect(reply.status == 201, "\(reply.text)")
        let posted = try #require((reply.object["id"] as? String).flatMap { ULID($0) })
        #expect(posted > futureChat, "a new event sorts after the newest one")
        #expect(posted.timestamp == hourAhead, "it carries the newest event's time while the clock is behind it")
    }
}
