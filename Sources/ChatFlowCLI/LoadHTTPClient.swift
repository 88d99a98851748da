import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A pool of keep-alive HTTP/1.1 connections, one request in flight on each. Requests that
/// find every connection busy wait in a FIFO queue, so a caller can submit at its own pace
/// (open loop) and the wait shows up in the latency it measures. A connection that closes is
/// replaced.
final class LoadHTTPClient: Sendable {
    struct Request: Sendable {
        var method: HTTPMethod
        var path: String
        /// The whole `Authorization` header value.
        var authorization: String?
        /// A JSON body.
        var body: ByteBuffer?
    }

    struct Response: Sendable {
        let status: Int
        let body: ByteBuffer
        let keepAlive: Bool

        var text: String { String(buffer: body) }
    }

    typealias Completion = @Sendable (Result<Response, any Error>) -> Void

    private struct Pending {
        let request: Request
        let completion: Completion
    }

    private struct State {
        var idle: [LoadHTTPConnection] = []
        var all: [ObjectIdentifier: LoadHTTPConnection] = [:]
        var queue: [Pending] = []
        var queueHead = 0
        /// Connections open or being opened.
        var live = 0
        var shutDown = false

        mutating func dequeue() -> Pending? {
            guard queueHead < queue.count else { return nil }
            let next = queue[queueHead]
            queueHead += 1
            if queueHead > 1024 && queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            return next
        }

        mutating func drain() -> [Pending] {
            let rest = Array(queue[queueHead...])
            queue.removeAll()
            queueHead = 0
            return rest
        }

        var queued: Int { queue.count - queueHead }
    }

    private let state = Mutex(State())
    private let target: LoadTarget
    private let size: Int
    private let group: any EventLoopGroup

    init(target: LoadTarget, connections: Int, group: any EventLoopGroup) {
        self.target = target
        size = connections
        self.group = group
    }

    /// Opens every connection of the pool.
    func start() async throws {
        state.withLock { $0.live = size }
        try await withThrowingTaskGroup(of: LoadHTTPConnection.self) { tasks in
            for _ in 0..<size {
                tasks.addTask { [target, group] in try await LoadHTTPConnection.connect(to: target, on: group.next()) }
            }
            for try await connection in tasks { adopt(connection) }
        }
    }

    /// Sends `request` on the next free connection; `completion` runs on that connection's
    /// event loop.
    func submit(_ request: Request, completion: @escaping Completion) {
        enum Next { case run(LoadHTTPConnection), queued, fail }
        let next: Next = state.withLock { state in
            if state.shutDown || state.live == 0 { return .fail }
            if let connection = state.idle.popLast() { return .run(connection) }
            state.queue.append(Pending(request: request, completion: completion))
            return .queued
        }
        switch next {
        case .run(let connection): run(request, on: connection, completion)
        case .queued: break
        case .fail: completion(.failure(LoadError("no HTTP connection to \(target.authority) is open")))
        }
    }

    func send(_ request: Request) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            submit(request) { continuation.resume(with: $0) }
        }
    }

    /// Requests waiting for a free connection.
    var queued: Int { state.withLock { $0.queued } }

    /// Closes every connection and fails whatever is still queued.
    func shutdown() async {
        let (connections, pending) = state.withLock { state in
            state.shutDown = true
            return (Array(state.all.values), state.drain())
        }
        for item in pending { item.completion(.failure(LoadError("the load test is shutting down"))) }
        for connection in connections {
            try? await connection.channel.close()
        }
    }

    // MARK: - Connections

    private func adopt(_ connection: LoadHTTPConnection) {
        let accepted: Bool = state.withLock { state in
            guard !state.shutDown else { return false }
            state.all[ObjectIdentifier(connection)] = connection
            return true
        }
        guard accepted else {
            connection.close()
            return
        }
        connection.channel.closeFuture.whenComplete { _ in self.lost(connection) }
        release(connection, reusable: true)
    }

    private func run(_ request: Request, on connection: LoadHTTPConnection, _ completion: @escaping Completion) {
        connection.execute(request).whenComplete { result in
            completion(result)
            self.release(connection, reusable: (try? result.get())?.keepAlive ?? false)
        }
    }

    /// Hands a connection whose request finished to the next queued request, or back to the
    /// idle list. One that cannot be reused is closed; `lost` then replaces it.
    private func release(_ connection: LoadHTTPConnection, reusable: Bool) {
        guard reusable, connection.isActive else {
            connection.close()
            return
        }
        let next: Pending? = state.withLock { state in
            if let next = state.dequeue() { return next }
            state.idle.append(connection)
            return nil
        }
        if let next { run(next.request, on: connection, next.completion) }
    }

    private func lost(_ connection: LoadHTTPConnection) {
        let replace: Bool = state.withLock { state in
            state.idle.removeAll { $0 === connection }
            state.all[ObjectIdentifier(connection)] = nil
            return !state.shutDown
        }
        guard replace else { return }
        Task {
            do {
                adopt(try await LoadHTTPConnection.connect(to: target, on: group.next()))
            } catch {
                let stranded: [Pending] = state.withLock { state in
                    state.live -= 1
                    return state.live == 0 ? state.drain() : []
                }
                for item in stranded { item.completion(.failure(error)) }
            }
        }
    }
}
