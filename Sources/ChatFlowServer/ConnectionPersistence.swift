import NIOCore
import NIOHTTP1

/// Decides for each request whether its connection stays open (RFC 9112 §9.3), which the
/// request loop cannot see for itself: it closes only on a `Connection` header that is
/// exactly `close`, and the HTTP version is gone by the time a request reaches it. So an
/// HTTP/1.0 client that did not ask for keep-alive (ApacheBench, scripts speaking plain
/// 1.0) was left waiting for a close that came only with the idle timeout, and
/// `Connection: Close, TE` kept the connection open.
///
/// A request whose connection is to end has its `Connection` header set to `close`, and
/// its answer says so; an HTTP/1.0 keep-alive request has its answer say `keep-alive`, as
/// such clients need to hear to keep using the connection.
///
/// A request asking to upgrade the connection (`Upgrade` with `Connection: upgrade`), past
/// the first, ends it too: NIO's parser reads nothing after such a request, so the next
/// one on the connection would wait, unanswered, for the idle timeout. Its headers are left
/// whole (`/ws` tells what is wrong with an upgrade by them); the connection closes once
/// its answer is written.
///
/// So does a request answered before its body has arrived whole: refused as too large
/// (413), unauthenticated (401), or on a route that reads no body. The request loop would
/// otherwise read the rest only to throw it away, which lets a client announce gigabytes
/// and make the server take them (RFC 9110 §15.5.14 lets it close instead). That close
/// lingers: the answer is followed by a FIN, and what the client still sends is dropped,
/// unparsed, for up to `lingering`, because closing a socket with unread bytes sends a
/// reset, which can discard the answer before the client reads it.
final class ConnectionPersistence: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Persistence { case unchanged, close, closeAfterUpgradeRequest, keepAliveOn10 }

    /// One entry per request not yet answered, oldest first, and whether its body has ended.
    private var pending: [(persistence: Persistence, bodyEnded: Bool)] = []
    /// Set while the answer being written is the last the connection can carry.
    private var closingAfterAnswer = false
    /// Set while the answer being written came before its request's body ended; once it is
    /// written, what arrives is dropped until the client closes or `lingering` has passed.
    private var lingerAfterAnswer = false
    private var discarding = false
    private let lingering: TimeAmount

    init(lingering: TimeAmount = .seconds(5)) {
        self.lingering = lingering
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if discarding { return }
        forward(context: context, data: data)
    }

    private func forward(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            // Heads and ends alternate, so an end is the newest request's. The answer to a
            // request that ended early has taken its entry; nothing can follow it then.
            if case .end = unwrapInboundIn(data), !pending.isEmpty { pending[pending.count - 1].bodyEnded = true }
            context.fireChannelRead(data)
            return
        }
        let tokens = head.headers[canonicalForm: "Connection"].map { $0.lowercased() }
        let persistence: Persistence
        if tokens.contains("upgrade") && head.headers.contains(name: "Upgrade") {
            persistence = .closeAfterUpgradeRequest
        } else if tokens.contains("close") || (head.version < .http1_1 && !tokens.contains("keep-alive")) {
            head.headers.replaceOrAdd(name: "Connection", value: "close")
            persistence = .close
        } else {
            persistence = head.version < .http1_1 ? .keepAliveOn10 : .unchanged
        }
        pending.append((persistence, false))
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        if case .end = part, closingAfterAnswer {
            let channel = context.channel
            if lingerAfterAnswer {
                discarding = true
                // Dropped before the HTTP parser, which would otherwise go on reading (and
                // answering) whatever the client sends.
                try? context.pipeline.syncOperations.addHandler(Discard(), position: .first)
                let lingering = lingering
                context.writeAndFlush(data).whenComplete { result in
                    promise?.completeWith(result)
                    channel.close(mode: .output, promise: nil)
                    channel.eventLoop.scheduleTask(in: lingering) { channel.close(promise: nil) }
                }
                return
            }
            context.writeAndFlush(data).whenComplete { result in
                promise?.completeWith(result)
                channel.close(promise: nil)
            }
            return
        }
        // An interim answer (100 Continue) is not the request's answer.
        guard case .head(var head) = part, head.status.code >= 200, !pending.isEmpty else {
            context.write(data, promise: promise)
            return
        }
        let (persistence, bodyEnded) = pending.removeFirst()
        if !bodyEnded {
            head.headers.replaceOrAdd(name: "Connection", value: "close")
            closingAfterAnswer = true
            lingerAfterAnswer = true
            context.write(wrapOutboundOut(.head(head)), promise: promise)
            return
        }
        switch persistence {
        case .unchanged:
            break
        case .close:
            head.headers.replaceOrAdd(name: "Connection", value: "close")
        case .closeAfterUpgradeRequest:
            head.headers.replaceOrAdd(name: "Connection", value: "close")
            closingAfterAnswer = true
        case .keepAliveOn10:
            if !head.headers.contains(name: "Connection") { head.headers.add(name: "Connection", value: "keep-alive") }
        }
        context.write(wrapOutboundOut(.head(head)), promise: promise)
    }
}

extension ConnectionPersistence {
    /// Drops everything read from the socket: put first in the pipeline for a lingering close.
    private final class Discard: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    }
}

private extension HTTPVersion {
    static func < (lhs: HTTPVersion, rhs: HTTPVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }
}
