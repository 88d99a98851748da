import NIOCore
import NIOWebSocket

/// Refuses unmasked client frames: RFC 6455 §5.1 has a server close the connection on one.
/// It sits in front of the frame aggregator, which drops the mask key when it joins the
/// fragments of a message.
final class LiveMaskingCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    /// Passed down the pipeline as an error; `LiveSocketHandler` closes the socket with 1002.
    struct UnmaskedFrame: Error {}

    /// After the first unmasked frame nothing more from the client is read.
    private var refused = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        guard unwrapInboundIn(data).maskKey != nil else {
            refused = true
            context.fireErrorCaught(UnmaskedFrame())
            return
        }
        context.fireChannelRead(data)
    }
}
