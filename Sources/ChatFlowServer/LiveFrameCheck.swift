import NIOCore
import NIOWebSocket

/// Refuses client frames RFC 6455 says a server must fail the connection on (§5.1, §5.2):
/// unmasked ones, ones with reserved bits set (no extension is ever agreed here), and ones
/// with a reserved opcode. It sits in front of the frame aggregator, which drops the mask key
/// when it joins the fragments of a message.
final class LiveFrameCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    /// Passed down the pipeline as an error; `LiveSocketHandler` closes the socket with 1002.
    struct Violation: Error {
        let reason: String
    }

    private static let knownOpcodes: Set<WebSocketOpcode> = [.continuation, .text, .binary, .connectionClose, .ping, .pong]

    /// After the first violation nothing more from the client is read.
    private var refused = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let frame = unwrapInboundIn(data)
        let reason: String? =
            if frame.maskKey == nil { "client frames must be masked" }
            else if frame.rsv1 || frame.rsv2 || frame.rsv3 { "no extension was agreed: the reserved bits must be clear" }
            else if !Self.knownOpcodes.contains(frame.opcode) { "opcode \(UInt8(webSocketOpcode: frame.opcode)) is reserved" }
            else { nil }
        guard let reason else {
            context.fireChannelRead(data)
            return
        }
        refused = true
        context.fireErrorCaught(Violation(reason: reason))
    }
}
