import NIOCore
import NIOHTTP1

/// Takes an `Upgrade` to anything but WebSocket (`h2c`, as `curl --http2` asks for), or one
/// on a request other than a GET, out of a connection's first request head, so that it is
/// answered as the plain HTTP/1.1 request it also is. NIO's upgrade handler loses the head of
/// a request it finds no upgrader for, and the connection ended with no answer at all.
/// Removes itself after the first head: only the first request of a connection can upgrade it.
final class ForeignUpgradeFilter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        let protocols = head.headers[canonicalForm: "Upgrade"].map { $0.lowercased() }
        // Only a GET opens a WebSocket (RFC 6455 §4.1); NIO's upgrader meets the body of any
        // other request asking for one as a protocol error and answers nothing.
        if !protocols.isEmpty && (!protocols.contains("websocket") || head.method != .GET) {
            let asksToUpgrade = head.headers[canonicalForm: "Connection"].contains { $0.lowercased() == "upgrade" }
            head.headers.remove(name: "Upgrade")
            let connection = head.headers[canonicalForm: "Connection"].filter { $0.lowercased() != "upgrade" }
            head.headers.remove(name: "Connection")
            if asksToUpgrade {
                // NIO's parser reads nothing after a request asking to upgrade: the next one
                // would wait unanswered for the idle timeout, so this answer ends the connection.
                head.headers.add(name: "Connection", value: "close")
            } else if !connection.isEmpty {
                head.headers.add(name: "Connection", value: connection.joined(separator: ", "))
            }
        }
        context.fireChannelRead(wrapInboundOut(.head(head)))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
