import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
import ChatFlowTestSupport
#endif

struct ServeTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `chatflow serve` as a child process, plus a small HTTP client for its API.
enum Serve {
    static let environment = [
        "CHATFLOW_JWT_SECRET": "serve-test-secret-0123456789abcdef012345",  // 40 characters
        "CHATFLOW_RATE_LIMIT": "0",
        "CHATFLOW_READ_RATE_LIMIT": "0",
    ]

    /// A port nobody listens on right now: bind port 0 on loopback, read it back, close.
    static func freePort() throws -> Int {
        let (fd, port) = try boundLoopbackSocket()
        close(fd)
        return port
    }

    /// A TCP socket bound to a port of the kernel's choosing on 127.0.0.1, not listening;
    /// the caller closes it.
    static func boundLoopbackSocket() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServeTestFailure("socket() failed: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw ServeTestFailure("bind/getsockname failed: \(errno)")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// Runs a system tool (mount, umount) and waits; throws unless it exits 0.
    static func runTool(_ tool: String, _ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ServeTestFailure("\(tool) \(arguments) exited \(process.terminationStatus)") }
    }

    /// Starts `chatflow serve` on a free port and waits until `/healthz` answers.
    static func start(dataDirectory: String, environment extra: [String: String] = [:], errorFile: String? = nil) async throws -> (ChildProcess, Int) {
        let port = try freePort()
        let child = try ChildProcess(
            ["serve", "--data-dir", dataDirectory, "--port", "\(port)"],
            environment: environment.merging(extra) { $1 }, errorFile: errorFile)
        let client = APIClient(port: port, token: nil)
        defer { client.invalidate() }
        let up = await eventually(timeout: .seconds(60)) {
            (try? await client.call("GET", "/healthz").status) == 200
        }
        guard up else {
            _ = child.kill()
            throw ServeTestFailure("serve on port \(port) never answered /healthz")
        }
        return (child, port)
    }

    /// Waits until `/readyz` says the projections have caught up with the log.
    static func waitReady(port: Int) async throws {
        let client = APIClient(port: port, token: nil)
        defer { client.invalidate() }
        let ready = await eventually(timeout: .seconds(60)) {
            (try? await client.call("GET", "/readyz").status) == 200
        }
        guard ready else { throw ServeTestFailure("serve on port \(port) never became ready") }
    }

    /// `chatflow token --user <user>` with the same secret.
    static func token(user: String, dataDirectory: String) async throws -> String {
        let child = try ChildProcess(["token", "--user", user, "--data-dir", dataDirectory], environment: environment)
        let status = await child.exitStatus()
        guard status == 0, let token = child.lines.last(where: { !$0.isEmpty }) else {
            throw ServeTestFailure("chatflow token exited \(status): \(child.lines)")
        }
        return token
    }

    /// `chatflow verify --data-dir <dir>`: its exit status and output.
    static func verify(dataDirectory: String) async throws -> (Int32, [String]) {
        let child = try ChildProcess(["verify", "--data-dir", dataDirectory])
        let status = await child.exitStatus()
        return (status, child.lines)
    }

    static func createChat(_ client: APIClient, name: String) async throws -> String {
        let reply = try await client.call("POST", "/chats", json: #"{"name":"\#(name)","isPrivate":false}"#)
        guard reply.status == 201, let id = reply.object["id"] as? String else {
            throw ServeTestFailure("create chat: \(reply.status) \(reply.text)")
        }
        return id
    }

    static func postBody(_ clientID: String) -> String {
        #"{"content":"\#(clientID)","messageType":"text","clientMessageId":"\#(clientID)"}"#
    }

    /// Every message of the chat, oldest first, paging with `direction=newer`.
    static func allMessages(_ client: APIClient, chat: String) async throws -> [(id: String, content: String)] {
        var result: [(id: String, content: String)] = []
        var cursor: String?
        for _ in 0..<100_000 {
            var path = "/chats/\(chat)/messages?direction=newer&limit=100"
            if let cursor { path += "&cursor=" + cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }
            let reply = try await client.call("GET", path)
            guard reply.status == 200, let messages = reply.object["messages"] as? [[String: Any]] else {
                throw ServeTestFailure("list messages: \(reply.status) \(reply.text)")
            }
            for message in messages {
                result.append((message["id"] as? String ?? "?", message["content"] as? String ?? "?"))
            }
            cursor = reply.object["nextCursor"] as? String
            if cursor == nil { return result }
        }
        throw ServeTestFailure("paging never ended")
    }
}

/// A URLSession against `http://127.0.0.1:<port>` with an optional bearer token.
final class APIClient: Sendable {
    struct Reply: @unchecked Sendable {
        let status: Int
        let data: Data
        let replayed: String?
        var requestID: String? = nil
        var retryAfter: String? = nil
        var text: String { String(decoding: data, as: UTF8.self) }
        var object: [String: Any] { (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:] }
    }

    let base: String
    let token: String?
    let session: URLSession

    init(port: Int, token: String?) {
        base = "http://127.0.0.1:\(port)"
        self.token = token
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 15
        configuration.httpMaximumConnectionsPerHost = 32
        session = URLSession(configuration: configuration)
    }

    func call(_ method: String, _ path: String, json: String? = nil) async throws -> Reply {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(json.utf8)
        }
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw ServeTestFailure("not an HTTP response") }
        return Reply(
            status: http.statusCode, data: data, replayed: http.value(forHTTPHeaderField: "Idempotent-Replayed"),
            requestID: http.value(forHTTPHeaderField: "X-Request-Id"), retryAfter: http.value(forHTTPHeaderField: "Retry-After"))
    }

    func invalidate() { session.invalidateAndCancel() }
}

/// Concurrent posters with unique clientMessageIds, recording every 201.
final class PostLoad: Sendable {
    private struct State {
        var acks: [(clientID: String, id: String)] = []
        var unexpected: [String] = []
        var failuresExpected = false
        var stopped = false
    }
    private let state = Mutex(State())

    var acks: [(clientID: String, id: String)] { state.withLock { $0.acks } }
    var ackCount: Int { state.withLock { $0.acks.count } }
    var unexpected: [String] { state.withLock { $0.unexpected } }
    /// From now on a failed post is expected (the server is being killed or stopped).
    func expectFailures() { state.withLock { $0.failuresExpected = true } }
    func stop() { state.withLock { $0.stopped = true } }

    /// Runs `workers` posters until `stop()`; each posts `<label>-<worker>-<n>`.
    func run(_ client: APIClient, chat: String, workers: Int, label: String) async {
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var n = 0
                    while !self.state.withLock({ $0.stopped }) {
                        let clientID = "\(label)-\(worker)-\(n)"
                        n += 1
                        do {
                            let reply = try await client.call("POST", "/chats/\(chat)/messages", json: Serve.postBody(clientID))
                            if reply.status == 201, let id = reply.object["id"] as? String {
                                self.state.withLock { $0.acks.append((clientID, id)) }
                            } else {
                                self.state.withLock { if !$0.failuresExpected { $0.unexpected.append("\(clientID): \(reply.status) \(reply.text)") } }
                            }
                        } catch {
                            self.state.withLock { if !$0.failuresExpected { $0.unexpected.append("\(clientID): \(error)") } }
                            if self.state.withLock({ $0.failuresExpected }) { return }
                        }
                    }
                }
            }
        }
    }
}
