import Foundation
import NIOCore
import NIOHTTP1

/// Refuses the requests a server must not serve as they stand, then closes the connection:
/// - an HTTP/1.1 request without `Host`, and any with more than one or with one that is
///   not a host and port (400, RFC 9112 §3.2);
/// - `CONNECT`, which asks a proxy for a tunnel (501). It was answered with no length and
///   the connection left open, so the client waited out the idle timeout. NIO frames every
///   answer to a `CONNECT` without a body, so this one is a head, and the close ends it.
///
/// The refusal comes after the answers to the requests before it on the connection, in
/// order. Nothing after the refused request is read: after a `CONNECT` it may be tunnel
/// bytes, not requests.
final class RequestHeadCheck: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Requests passed on whose answers have not ended yet.
    private var unanswered = 0
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
            unanswered += 1
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        guard case .end = unwrapOutboundIn(data) else { return }
        unanswered -= 1
        if unanswered == 0 && refusal != nil { sendRefusal(context: context) }
    }

    private func sendRefusal(context: ChannelHandlerContext) {
        guard let (problem, hasBody) = refusal, !sent else { return }
        sent = true
        let body = hasBody ? (try? JSONEncoder().encode(problem)) ?? Data() : Data()
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/problem+json")
        if hasBody { headers.add(name: "Content-Length", value: String(body.count)) }
        headers.add(name: "Connection", value: "close")
        let status = HTTPResponseStatus(statusCode: Int(problem.status.code))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if hasBody { context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil) }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
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
        return nil
    }

    /// `uri-host [":" port]` (RFC 9110 §7.2): a name of unreserved characters, percent
    /// escapes and sub-delimiters, or an IP literal in brackets; empty is allowed.
    static func isHost(_ value: String) -> Bool {
        var rest = Substring(value)
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return false }
            let literal = rest[rest.index(after: rest.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
            rest = rest[rest.index(after: close)...]
        } else {
            let end = rest.firstIndex(of: ":") ?? rest.endIndex
            guard rest[..<end].unicodeScalars.allSatisfy(isNameScalar) else { return false }
            rest = rest[end...]
        }
        guard let colon = rest.first else { return true }
        return colon == ":" && rest.dropFirst().allSatisfy { $0.isASCII && $0.isNumber }
    }

    private static func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", ".", "_", "~", "%",
             "!", "$", "&", "'", "(", ")", "*", "+", ",", ";", "=":
            true
        default:
            false
        }
    }
}
