import Foundation
import NIOCore
import NIOWebSocket
import HTTPTypes
import HummingbirdWSTesting
import Synchronization
import WSClient

/// A real WebSocket client of the test server: frames it receives are collected as they
/// arrive; tests wait on conditions over them with a deadline.
final class LiveClient: Sendable {
    private let received = Mutex<[String]>([])
    private let writer = Mutex<WebSocketOutboundWriter?>(nil)
    private let reading = Mutex(true)
    private let resume = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let closeCode = Mutex<Int?>(nil)
    private let task = Mutex<Task<Void, any Error>?>(nil)

    /// Connects as `user` (token in the query, as browsers do) and waits until connected.
    static func connect(_ server: TestServer, as user: String, token: String? = nil) async throws -> LiveClient {
        let client = LiveClient()
        var bearer = token
        if bearer == nil { bearer = try await server.token(user) }
        let token = bearer!
        let task = Task {
            let frame = try await server.client.ws("/ws?access_token=\(token)") { inbound, outbound, _ in
                client.writer.withLock { $0 = outbound }
                var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                while true {
                    if !client.reading.withLock({ $0 }) {
                        await withCheckedContinuation { continuation in client.resume.withLock { $0 = continuation } }
                    }
                    guard let message = try await iterator.next() else { break }
                    if case .text(let text) = message { client.received.withLock { $0.append(text) } }
                }
            }
            client.closeCode.withLock { $0 = frame.map { Int(UInt16(webSocketErrorCode: $0.closeCode)) } ?? 0 }
        }
        client.task.withLock { $0 = task }
        // Generous: with the whole suite running in one process, the server's token check
        // can wait seconds for a thread of the task pool.
        guard await client.wait(timeout: .seconds(30), { _ in client.writer.withLock { $0 != nil } }) else {
            throw TestFailure("the WebSocket did not connect")
        }
        return client
    }

    var frames: [[String: Any]] {
        received.withLock { $0 }.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The `event` frames of a channel, in arrival order.
    func events(on channel: String) -> [[String: Any]] {
        frames.filter { $0["type"] as? String == "event" && $0["channel"] as? String == channel }
    }

    /// The kinds of a channel's events, in arrival order.
    func eventKinds(on channel: String) -> [String] {
        events(on: channel).compactMap { ($0["event"] as? [String: Any])?["kind"] as? String }
    }

    /// Pings and waits for the answer: the server handles a connection's operations in
    /// order and writes its frames in order, so whatever it queued before has arrived.
    func roundTrip() async throws -> Bool {
        func pongs(_ frames: [[String: Any]]) -> Int { frames.filter { $0["type"] as? String == "pong" }.count }
        let before = pongs(frames)
        try await send(#"{"op":"ping"}"#)
        return await wait { pongs($0) > before }
    }

    func send(_ json: String) async throws {
        guard let outbound = writer.withLock({ $0 }) else { throw TestFailure("not connected") }
        try await outbound.write(.text(json))
    }

    /// A binary frame: the server's socket handler answers it itself, not through the hub.
    func sendBinary(_ bytes: [UInt8]) async throws {
        guard let outbound = writer.withLock({ $0 }) else { throw TestFailure("not connected") }
        try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
    }

    func subscribe(_ channel: String, since: String? = nil) async throws {
        let sinceField = since.map { #","since":"\#($0)""# } ?? ""
        try await send(#"{"op":"subscribe","channel":"\#(channel)"\#(sinceField)}"#)
        guard await wait({ frames in frames.contains { ($0["type"] as? String == "subscribed" || $0["type"] as? String == "error") && $0["channel"] as? String == channel } }) else {
            throw TestFailure("no answer to subscribe \(channel)")
        }
    }

    /// Waits until `condition` holds for the frames so far; false after the deadline.
    func wait(timeout: Duration = .seconds(15), _ condition: ([[String: Any]]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(frames) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition(frames)
    }

    /// Stops reading from the socket (the client becomes slow), or starts again.
    func pauseReading() { reading.withLock { $0 = false } }
    func resumeReading() {
        reading.withLock { $0 = true }
        resume.withLock { continuation in
            continuation?.resume()
            continuation = nil
        }
    }

    /// The close code the server sent, once the connection has ended.
    func closed(timeout: Duration = .seconds(20)) async -> Int? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let code = closeCode.withLock({ $0 }) { return code }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    func close() async {
        if let outbound = writer.withLock({ $0 }) { try? await outbound.close(.normalClosure, reason: nil) }
        _ = try? await task.withLock({ $0 })?.value
    }
}
