import Foundation
import NIOCore
import NIOHTTP1

/// Refuses the requests a server must not serve as they stand, then closes the connection:
/// - an HTTP/1.1 request without `Host`, and any with more than one or with one that is
///   not a host and port (400, RFC 9112 §3.2);
/// - a `Transfer-Encoding` other than `chunked` alone (501, RFC 9112 §6.1), and any in an
///   HTTP/1.0 request (400: its framing is faulty there);
/// - `CONNECT`, which asks a proxy for a tunnel (501). It was answered with no length and
///   the connection left open, so the client waited out the idle timeout. NIO frames every
///   answer to a `CONNECT` without a body, so this one is a head, and the close ends it.
///
/// The refusal comes after the answers to the requests before it on the connection, in
/// order. Nothing after the refused request is read: after a `CONNECT` it may be tunnel
/// bytes, not requests.
///
/// It also answers `Expect: 100-continue` (RFC 9110 §10.1.1), which nothing else here does,
/// except for a request announcing a body over the limit or carrying no token (every route
/// that reads a body needs one): its client is not told to send what will be refused, and
/// hears the 413 or 401 instead.
final class RequestHeadCheck: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let maxBodyBytes: Int

    init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
    }

    /// Requests passed on whose answers have not ended yet.
    private var unanswered = 0
    /// For a request expecting `100 Continue` behind others: how many answers must end
    /// before it is its turn to hear it.
    private var continueAfter: Int?
    /// Once set, nothing more is passed on; it is sent when `unanswered` reaches zero.
    private var refusal: (problem: ProblemDetail, hasBody: Bool)?
    private var sent = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard refusal == nil else { return }
        if case .head(let head) = unwrapInboundIn(data) {
            if let problem = Self.problem(with: head) {
                refusal = (problem, head.method != .CONNECT)
                if unanswered == 0 { sendRefusal(context: context) }
                return
            }
            // A client waiting to hear before it sends a body is told to go on when its request
            // is the next to be answered, not left to its own timeout (curl: 1 s).
            if (head.version.major, head.version.minor) >= (1, 1)
                && head.headers[canonicalForm: "Expect"].contains(where: { $0.lowercased() == "100-continue" })
                && !head.headers["Content-Length"].contains(where: { Int($0).map { $0 > maxBodyBytes } ?? false })
                && head.headers.contains(name: "Authorization") {
                if unanswered == 0 { sendContinue(context: context) } else { continueAfter = unanswered }
            }
            unanswered += 1
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        guard case .end = unwrapOutboundIn(data) else { return }
        unanswered -= 1
        if let waiting = continueAfter {
            continueAfter = waiting > 1 ? waiting - 1 : nil
            if waiting == 1 { sendContinue(context: context) }
        }
        if unanswered == 0 && refusal != nil { sendRefusal(context: context) }
    }

    private func sendContinue(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .continue))), promise: nil)
    }

    private func sendRefusal(context: ChannelHandlerContext) {
        guard let (problem, hasBody) = refusal, !sent else { return }
        sent = true
        let body = hasBody ? (try? JSONResponse.encoder.encode(problem)) ?? Data() : Data()
        var headers = HTTPHeaders()
        // As Hummingbird's own answers carry (RFC 9110 §6.6.1: an origin server with a clock
        // sends Date).
        headers.add(name: "Date", value: Self.httpDate(Date()))
        headers.add(name: "Server", value: "chatflow")
        for (name, value) in EveryAnswerHeaders.fields { headers.add(name: name, value: value) }
        if hasBody {
            headers.add(name: "Content-Type", value: "application/problem+json")
            headers.add(name: "Content-Length", value: String(body.count))
        }
        headers.add(name: "Connection", value: "close")
        let status = HTTPResponseStatus(statusCode: Int(problem.status.code))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if hasBody { context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil) }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7).
    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }

    /// Why `head` is refused, if it is.
    static func problem(with head: HTTPRequestHead) -> ProblemDetail? {
        if head.method == .CONNECT {
            return ProblemDetail(.notImplemented, "CONNECT is not supported: this is not a proxy")
        }
        let hosts = head.headers["Host"]
        if hosts.count > 1 {
            return ProblemDetail(.badRequest, "a request has one Host header, not \(hosts.count)")
        }
        if let host = hosts.first {
            guard isHost(host) else { return ProblemDetail(.badRequest, "the Host header must be a host name or address, with an optional port") }
        } else if (head.version.major, head.version.minor) >= (1, 1) {
            return ProblemDetail(.badRequest, "an HTTP/1.1 request needs a Host header")
        }
        // NIO's parser reads a body as chunked whatever codings are named before `chunked`:
        // a proxy in front that applied them would see another body, or another request.
        // Also when blank: the parser then reads no body, and the bytes a proxy took for
        // one would be read as the next request.
        let codings = head.headers[canonicalForm: "Transfer-Encoding"]
        if head.headers.contains(name: "Transfer-Encoding") {
            if (head.version.major, head.version.minor) < (1, 1) {
                return ProblemDetail(.badRequest, "HTTP/1.0 has no Transfer-Encoding (RFC 9112 §6.1); send the body with Content-Length")
            }
            if codings.count != 1 || codings[0].lowercased() != "chunked" {
                return ProblemDetail(.notImplemented, "Transfer-Encoding '\(ProblemDetail.quote(codings.joined(separator: ", ")))' is not supported; send the body chunked alone or with Content-Length")
            }
        }
        return nil
    }

    /// `uri-host [":" port]` (RFC 9110 §7.2, RFC 3986 §3.2.2): a registered name of
    /// unreserved characters, sub-delimiters and percent escapes (empty is allowed), an IPv4
    /// address (a name of that shape), or an IPv6 or future address in brackets. Whitespace
    /// around the value is not part of it (RFC 9112 §5), which NIO leaves at the end.
    static func isHost(_ value: String) -> Bool {
        var rest = value.utf8.drop { $0 == 0x20 || $0 == 0x09 }
        while let last = rest.last, last == 0x20 || last == 0x09 { rest = rest.dropLast() }
        if rest.first == UInt8(ascii: "[") {
            guard let close = rest.firstIndex(of: UInt8(ascii: "]")) else { return false }
            guard isIPLiteral(Array(rest[rest.index(after: rest.startIndex)..<close])) else { return false }
            rest = rest[rest.index(after: close)...]
        } else {
            let end = rest.firstIndex(of: UInt8(ascii: ":")) ?? rest.endIndex
            guard isRegisteredName(rest[..<end]) else { return false }
            rest = rest[end...]
        }
        guard let colon = rest.first else { return true }
        return colon == UInt8(ascii: ":") && rest.dropFirst().allSatisfy(isDigit)
    }

    /// An IPv6 address, or `v` hex digits `.` and more (IPvFuture).
    private static func isIPLiteral(_ bytes: [UInt8]) -> Bool {
        if let first = bytes.first, first == UInt8(ascii: "v") || first == UInt8(ascii: "V") {
            guard let dot = bytes.firstIndex(of: UInt8(ascii: ".")), dot > 1, dot < bytes.count - 1 else { return false }
            return bytes[1..<dot].allSatisfy(isHexDigit)
                && bytes[(dot + 1)...].allSatisfy { isUnreserved($0) || isSubDelimiter($0) || $0 == UInt8(ascii: ":") }
        }
        var address = in6_addr()
        return bytes.allSatisfy { $0 < 0x80 } && inet_pton(AF_INET6, String(decoding: bytes, as: UTF8.self), &address) == 1
    }

    private static func isRegisteredName(_ bytes: Substring.UTF8View.SubSequence) -> Bool {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                let first = bytes.index(after: index)
                guard first < bytes.endIndex, bytes.index(after: first) < bytes.endIndex,
                      isHexDigit(bytes[first]), isHexDigit(bytes[bytes.index(after: first)]) else { return false }
                index = bytes.index(first, offsetBy: 2)
                continue
            }
            guard isUnreserved(byte) || isSubDelimiter(byte) else { return false }
            index = bytes.index(after: index)
        }
        return true
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        isDigit(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || "-._~".utf8.contains(byte)
    }

    private static func isSubDelimiter(_ byte: UInt8) -> Bool {
        "!$&'()*+,;=".utf8.contains(byte)
    }
}
