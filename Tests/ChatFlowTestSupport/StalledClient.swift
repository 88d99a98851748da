import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A WebSocket client on a plain blocking socket that can stop reading altogether, so the
/// kernel buffers between it and the server really fill up (an in-process client library
/// keeps reading into its own memory). Its receive buffer is made small to fill quickly.
/// Blocking calls run on a private dispatch queue, never on the concurrency pool the server
/// needs.
public final class StalledClient: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    private let socket: Int32
    /// Bytes read but not yet parsed into frames.
    private var pending: [UInt8] = []
    /// How the stream ended, and the frames read, for failure messages.
    public private(set) var ending = ""
    public private(set) var framesRead = 0
    /// Closed by `reset`: the descriptor is not ours to close again.
    private var isReset = false

    /// Connects to `127.0.0.1:port`, upgrades `/ws` with `token`, and sends `frames` (text).
    public static func connect(port: Int, token: String, frames: [String]) async throws -> StalledClient {
        try await blocking { try StalledClient(port: port, token: token, frames: frames) }
    }

    /// Sends `request` (a whole HTTP/1.1 request) on a new connection and returns the
    /// response: its head, and its body as long as `Content-Length` says.
    public static func exchange(port: Int, request: String) async throws -> (head: String, body: String) {
        try await blocking {
            let client = try StalledClient(port: port)
            try client.write(Array(request.utf8))
            let head = try client.readHead()
            let length = head.split(separator: "\r\n")
                .first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            var body: [UInt8] = []
            while body.count < length {
                let chunk = try client.read(length - body.count)
                if chunk.isEmpty { break }
                body += chunk
            }
            return (head, String(decoding: body, as: UTF8.self))
        }
    }

    /// Opens a connection, sends `bytes` (reading the answer's head when `answered`), then
    /// reads until the server closes the connection: the seconds from before connecting, so
    /// never less than the server saw the connection open, however late this side runs.
    /// Throws when the server keeps the connection open past the socket's 30-second receive
    /// timeout.
    public static func secondsUntilClosed(port: Int, sending bytes: String = "", answered: Bool = false) async throws -> Double {
        let start = ContinuousClock.now
        let client = try await open(port: port, sending: bytes)
        _ = try await client.secondsUntilClosed(afterAnswer: answered)
        return (ContinuousClock.now - start) / .seconds(1)
    }

    /// A connection that has sent `bytes` (a request, part of one, or nothing) and no more.
    public static func open(port: Int, sending bytes: String = "") async throws -> StalledClient {
        try await blocking {
            let client = try StalledClient(port: port)
            if !bytes.isEmpty { try client.write(Array(bytes.utf8)) }
            return client
        }
    }

    /// Everything the server sends until it closes the connection, as text.
    public func readUntilEnd() async throws -> String {
        try await Self.blocking { [self] in
            var bytes: [UInt8] = []
            while true {
                let chunk = try read(4096)
                if chunk.isEmpty { break }
                bytes += chunk
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Reads (past an answer's head first, when `afterAnswer`) until the server closes the
    /// connection; the seconds that took.
    public func secondsUntilClosed(afterAnswer: Bool = false) async throws -> Double {
        try await Self.blocking { [self] in
            if afterAnswer { _ = try readHead() }
            let start = ContinuousClock.now
            while try !read(4096).isEmpty {}
            return (ContinuousClock.now - start) / .seconds(1)
        }
    }

    private convenience init(port: Int, token: String, frames: [String]) throws {
        try self.init(port: port)
        let request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            + "Authorization: Bearer \(token)\r\n\r\n"
        try write(Array(request.utf8))
        let head = try readHead()
        guard head.hasPrefix("HTTP/1.1 101") else { throw Failure("upgrade refused: \(head)") }
        for frame in frames { try write(Self.maskedFrame(opcode: 0x1, Array(frame.utf8))) }
    }

    /// A connected socket, nothing sent yet.
    private init(port: Int) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure("socket: errno \(errno)") }
        var size: Int32 = 4096
        setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure("connect: errno \(errno)") }
    }

    /// Sends `text` as it is.
    public func send(_ text: String) async throws {
        try await send(bytes: Array(text.utf8))
    }

    /// Sends `bytes` as they are, UTF-8 or not.
    public func send(bytes: [UInt8]) async throws {
        try await Self.blocking { [self] in try write(bytes) }
    }

    /// The next answer's head (status line and headers), read byte by byte so that nothing
    /// after it is consumed.
    public func readAnswerHead() async throws -> String {
        try await Self.blocking { [self] in try readHead() }
    }

    /// A response head, byte by byte so that nothing after it is consumed.
    private func readHead() throws -> String {
        var head: [UInt8] = []
        while !head.ends(with: Array("\r\n\r\n".utf8)) {
            guard let byte = try read(1).first else { throw Failure("connection closed before a whole response head") }
            head.append(byte)
        }
        return String(decoding: head, as: UTF8.self)
    }

    deinit { if !isReset { Glibc.close(socket) } }

    /// The next frame from the server: its opcode and payload; nil at end of stream.
    private func nextFrame() throws -> (opcode: UInt8, payload: [UInt8])? {
        while true {
            if let (opcode, payload, length) = Self.frame(in: pending) {
                pending.removeFirst(length)
                framesRead += 1
                return (opcode, Array(payload))
            }
            let chunk = try read(64 * 1024)
            if chunk.isEmpty { return nil }
            pending.append(contentsOf: chunk)
        }
    }

    /// Sends one frame as a client does (masked, unless `masked` is false, which a client
    /// must never do); `fin: false` starts or continues a fragmented message.
    public func send(opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool = true) async throws {
        try await Self.blocking { try self.write(Self.maskedFrame(opcode: opcode, payload, fin: fin, masked: masked)) }
    }

    /// Ends the connection the way a client that vanishes does: the socket is shut down
    /// without a close frame.
    public func drop() {
        shutdown(socket, Int32(SHUT_RDWR))
    }

    /// Ends the connection the way a client whose host resets it does: closed with a zero
    /// linger, so the server meets a TCP reset instead of an end of stream.
    public func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(socket, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        shutdown(socket, Int32(SHUT_RD))
        isReset = true
        Glibc.close(socket)
    }

    /// The next frame from the server, whatever it is; nil at end of stream.
    public func readFrame() async throws -> (opcode: UInt8, payload: [UInt8])? {
        try await Self.blocking { try self.nextFrame() }
    }

    /// Reads frames until one is a text frame containing `text`.
    public func waitForText(containing text: String) async throws {
        try await Self.blocking { try self.readText(containing: text) }
    }

    /// Reads frames until the server closes the connection; returns the close code it sent,
    /// or nil if the connection ended without a close frame.
    public func readUntilClosed() async throws -> UInt16? {
        try await Self.blocking { try self.readCloseCode() }
    }

    /// A private queue: its threads are made as needed, while the global queue's are the
    /// few the concurrency pool runs on, and a blocked read there would stall the server
    /// under test (its token checks run as tasks).
    private static let queue = DispatchQueue(label: "chatflow.test.raw-websocket", attributes: .concurrent)

    private static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    private func readText(containing text: String) throws {
        while let frame = try nextFrame() {
            if frame.opcode == 0x1, String(decoding: frame.payload, as: UTF8.self).contains(text) { return }
        }
        throw Failure("connection closed before a frame containing \(text)")
    }

    private func readCloseCode() throws -> UInt16? {
        while let frame = try nextFrame() {
            if frame.opcode == 0x8 {
                // Answer it, as a well-behaved client does, so the server can let go at once.
                try write(Self.maskedFrame(opcode: 0x8, Array(frame.payload.prefix(2))))
                return frame.payload.count >= 2 ? UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1]) : nil
            }
        }
        return nil
    }

    private func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure("send: errno \(errno)") }
            sent += n
        }
    }

    /// Up to `count` bytes; empty at end of stream or on a reset.
    private func read(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { recv(socket, $0.baseAddress, count, 0) }
        if n < 0 && errno == ECONNRESET { ending = "reset"; return [] }
        if n == 0 { ending = "end of stream" }
        guard n >= 0 else { throw Failure("recv: errno \(errno)") }
        return Array(bytes[..<n])
    }

    /// The server frame starting at `offset`: opcode, payload and its whole length.
    private static func frame(in buffer: [UInt8]) -> (UInt8, ArraySlice<UInt8>, Int)? {
        let offset = 0
        guard buffer.count - offset >= 2 else { return nil }
        let opcode = buffer[offset] & 0x0F
        var length = Int(buffer[offset + 1] & 0x7F)
        var header = 2
        if length == 126 {
            guard buffer.count - offset >= 4 else { return nil }
            length = Int(buffer[offset + 2]) << 8 | Int(buffer[offset + 3])
            header = 4
        } else if length == 127 {
            guard buffer.count - offset >= 10 else { return nil }
            length = (0..<8).reduce(0) { $0 << 8 | Int(buffer[offset + 2 + $1]) }
            header = 10
        }
        guard buffer.count - offset >= header + length else { return nil }
        return (opcode, buffer[(offset + header)..<(offset + header + length)], header + length)
    }

    /// Client frames are masked (RFC 6455 §5.3).
    private static func maskedFrame(opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool = true) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        if payload.count < 126 {
            frame.append(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame.append(maskBit | 126)
            frame.append(contentsOf: [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)])
        } else {
            frame.append(maskBit | 127)
            frame.append(contentsOf: (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) })
        }
        guard masked else { return frame + payload }
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        frame.append(contentsOf: mask)
        frame.append(contentsOf: payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        return frame
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
