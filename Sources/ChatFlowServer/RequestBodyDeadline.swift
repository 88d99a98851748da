import NIOCore
import NIOHTTP1

/// Closes a connection whose request body has not all arrived within `timeout` of its head.
/// The idle timeout starts again with every byte, so a body sent a byte at a time held its
/// connection, and what had come of the body, for as long as its client went on; a server
/// full of them has no room for anyone else. A request without a body is not timed.
final class RequestBodyDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            deadline?.cancel()
            deadline = nil
            let length = head.headers["Content-Length"].first.flatMap { Int($0) } ?? 0
            if length > 0 || head.headers.contains(name: "Transfer-Encoding") {
                let channel = context.channel
                deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
            }
        case .end:
            deadline?.cancel()
            deadline = nil
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }
}
