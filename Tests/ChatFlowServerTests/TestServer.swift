import ChatFlowCore
@testable import ChatFlowServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import ChatFlowTestSupport

/// A live ChatFlow server on a loopback port over a fresh data directory, with helpers to
/// call it as a user. Everything is real: RocksDB, HTTP, WebSocket.
struct TestServer: Sendable {
    let client: any TestClientProtocol
    let engine: ChatFlowEngine
    let verifier: TokenVerifier
    let configuration: ServerConfiguration
    /// The server's live hub, for tests that hand it events themselves.
    let hub: LiveHub

    static let secret = "test-secret-0123456789abcdef0123456789abcdef"

    struct Reply: @unchecked Sendable {
        let status: Int
        let headers: HTTPFields
        let text: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        var array: [[String: Any]] { json as? [[String: Any]] ?? [] }
        subscript(_ key: String) -> Any? { object[key] }
        var string: (String) -> String? { { object[$0] as? String } }
    }

    /// Runs `body` against a live server; the data directory is removed afterwards.
    ///
    /// With `dataDirectory`, the server opens that directory (the caller's to remove)
    /// instead of a fresh one; `beforeStart` sees the engine before any service runs.
    static func run(
        configure: (inout ServerConfiguration) -> Void = { _ in },
        replayGate: ReplayGate? = nil,
        dataDirectory: String? = nil,
        beforeStart: (ChatFlowEngine) throws -> Void = { _ in },
        _ body: @Sendable (TestServer) async throws -> Void
    ) async throws {
        let dir = TemporaryDirectory("chatflow-server")
        defer { dir.remove() }
        var configuration = ServerConfiguration(jwtSecret: secret)
        configuration.port = 0
        configuration.rateLimit = 0
        configuration.readRateLimit = 0
        configure(&configuration)
        let engine = try ChatFlowEngine(dataDirectory: dataDirectory ?? dir.appending("data"))
        do {
            try beforeStart(engine)
        } catch {
            engine.close()
            throw error
        }
        var logger = Logger(label: "chatflow-test")
        logger.logLevel = .warning
        let hub = Mutex<LiveHub?>(nil)
        let app = try await buildApplication(
            engine: engine, configuration: configuration, metrics: ServerMetrics(), logger: logger, replayGate: replayGate,
            hubMade: { made in hub.withLock { $0 = made } })
        let verifier = await TokenVerifier(configuration: configuration)
        let frozen = configuration
        let madeHub = hub.withLock { $0 }!
        do {
            try await app.test(.live) { client in
                try await body(TestServer(client: client, engine: engine, verifier: verifier, configuration: frozen, hub: madeHub))
            }
        } catch {
            engine.close()
            throw error
        }
        engine.close()
    }

    var port: Int { client.port! }

    func token(_ user: String, ttl: TimeInterval = 3600) async throws -> String {
        try await verifier.sign(user: user, ttl: ttl)
    }

    /// One request as `user` (nil: no token), with an optional JSON body.
    @discardableResult
    func call(_ method: HTTPRequest.Method, _ path: String, as user: String?, json: String? = nil, headers extra: HTTPFields = [:]) async throws -> Reply {
        var headers = extra
        if let user { headers[.authorization] = "Bearer \(try await token(user))" }
        if json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
        return Reply(status: Int(response.status.code), headers: response.headers, text: String(buffer: response.body))
    }

    /// Creates a chat as `owner` and returns its id.
    func createChat(_ owner: String, name: String = "general", isPrivate: Bool = false) async throws -> String {
        let reply = try await call(.post, "/chats", as: owner, json: #"{"name":"\#(name)","isPrivate":\#(isPrivate)}"#)
        guard reply.status == 201, let id = reply.string("id") else { throw TestFailure("create chat: \(reply.status) \(reply.text)") }
        return id
    }

    /// Posts a message and returns its id.
    func post(_ chat: String, as user: String, _ content: String, clientID: String? = nil) async throws -> String {
        let clientField = clientID.map { #","clientMessageId":"\#($0)""# } ?? ""
        let reply = try await call(.post, "/chats/\(chat)/messages", as: user, json: #"{"content":"\#(content)","messageType":"text"\#(clientField)}"#)
        guard reply.status == 201, let id = reply.string("id") else { throw TestFailure("post: \(reply.status) \(reply.text)") }
        return id
    }

    func join(_ chat: String, as user: String) async throws {
        let reply = try await call(.post, "/chats/\(chat)/members", as: user, json: "{}")
        guard reply.status == 200 else { throw TestFailure("join: \(reply.status) \(reply.text)") }
    }

    func add(_ target: String, to chat: String, by user: String) async throws {
        let reply = try await call(.post, "/chats/\(chat)/members", as: user, json: #"{"userId":"\#(target)"}"#)
        guard reply.status == 200 else { throw TestFailure("add member: \(reply.status) \(reply.text)") }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
