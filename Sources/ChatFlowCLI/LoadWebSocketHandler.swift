import Foundation
import NIOCore
import NIOWebSocket

/// The WebSocket side of one subscriber connection: subscribes to its chats as soon as the
/// upgrade is done, succeeds `ready` once the server has confirmed every subscription, and
/// then records each tagged `message.created` frame in the event loop's ledger. Frames are
/// matched by scanning for the run's tag rather than decoding JSON, which keeps the cost per
/// delivery small at tens of thousands of frames a second.
final class LoadWebSocketHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    struct Subscription: Sendable {
        /// Channel names such as `chats/{chatId}`.
        let channels: [String]
        let tag: LoadMessageTag
        let ledger: DeliveryLedger
        let ready: EventLoopPromise<Void>
    }

    /// Fired into the pipeline to close the connection on purpose (not counted as a disconnect).
    struct CloseRequest: Sendable {}

    private let subscription: Subscription
    private var unconfirmed: Int
    private var fragments: ByteBuffer?
    private var closing = false

    init(_ subscription: Subscription) {
        self.subscription = subscription
        unconfirmed = subscription.channels.count
    }

    func handlerAdded(context: ChannelHandlerContext) {
        for channel in subscription.channels {
            send(context, .text, #"{"op":"subscribe","channel":"\#(channel)"}"#)
        }
        context.flush()
        if unconfirmed == 0 { subscription.ready.succeed() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            if frame.fin { received(frame.unmaskedData) } else { fragments = frame.unmaskedData }
        case .continuation:
            guard var buffer = fragments else { return }
            var part = frame.unmaskedData
            buffer.writeBuffer(&part)
            if frame.fin {
                fragments = nil
                received(buffer)
            } else {
                fragments = buffer
            }
        case .ping:
            var data = frame.unmaskedData
            var pong = context.channel.allocator.buffer(capacity: data.readableBytes)
            pong.writeBuffer(&data)
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: pong)), promise: nil)
        case .connectionClose:
            if !closing {
                closing = true
                subscription.ledger.disconnected()
                subscription.ready.fail(LoadError("the server closed the WebSocket connection: \(closeReason(frame))"))
                send(context, .connectionClose, nil)
                context.flush()
            }
            context.close(promise: nil)
        default:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is CloseRequest else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        guard !closing else { return }
        closing = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: .normalClosure)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data)))
            .whenComplete { _ in channel.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !closing {
            closing = true
            subscription.ledger.disconnected()
        }
        subscription.ready.fail(LoadError("the WebSocket connection closed before its subscriptions were confirmed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        subscription.ready.fail(error)
        context.close(promise: nil)
    }

    // MARK: - Frames

    private func received(_ buffer: ByteBuffer) {
        let sequence = buffer.withUnsafeReadableBytes { subscription.tag.sequence(in: $0) }
        if let sequence {
            subscription.ledger.delivered(sequence, at: .now)
            return
        }
        // Anything else is rare (subscription answers, errors): decode it properly.
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any] else { return }
        switch object["type"] as? String {
        case "subscribed":
            unconfirmed -= 1
            if unconfirmed == 0 { subscription.ready.succeed() }
        case "error":
            let detail = object["detail"] as? String ?? "no detail"
            subscription.ready.fail(LoadError("the server refused a subscription: \(object["code"] as? String ?? "error"): \(detail)"))
        default:
            break
        }
    }

    private func send(_ context: ChannelHandlerContext, _ opcode: WebSocketOpcode, _ text: String?) {
        var data = context.channel.allocator.buffer(capacity: text?.utf8.count ?? 2)
        if let text { data.writeString(text) } else { data.write(webSocketErrorCode: .normalClosure) }
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data)), promise: nil)
    }

    private func closeReason(_ frame: WebSocketFrame) -> String {
        var data = frame.unmaskedData
        guard let code = data.readWebSocketErrorCode() else { return "no code" }
        let reason = data.readString(length: data.readableBytes) ?? ""
        return "\(UInt16(webSocketErrorCode: code)) \(reason)"
    }
}
