import ChatFlowCore
import Foundation
import NIOCore
import NIOWebSocket

/// One upgraded WebSocket, on its channel's event loop: client frames in (whole messages,
/// joined by `NIOWebSocketFrameAggregator`), pings out, and the close handshake. What the
/// client asks for goes to the hub through its `LiveConnection`, which also writes the
/// frames the hub sends.
final class LiveSocketHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let hub: LiveHub
    private let user: UserID
    private let expires: Double?
    private let pingInterval: TimeAmount
    private var connection: LiveConnection?
    private var expiry: Scheduled<Void>?
    private var pinger: RepeatedTask?
    /// A ping went out and no pong has come back since.
    private var awaitingPong = false
    /// Reads from the socket wait while the client's requests queue up (`LiveConnection.Reception`).
    private var readingPaused = false
    private var readWaiting = false

    init(hub: LiveHub, user: UserID, expires: Double?, pingInterval: TimeAmount) {
        self.hub = hub
        self.user = user
        self.expires = expires
        self.pingInterval = pingInterval
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let connection = hub.connect(user: user, channel: context.channel)
        self.connection = connection
        if let expires {
            // Clamped: a token minted to last centuries would overflow the timer.
            let remaining = min(max(0, expires - Date().timeIntervalSince1970), 366 * 86_400)
            expiry = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(remaining * 1e9))) {
                connection.close(code: 4001, reason: "token expired: reconnect with a new token")
            }
        }
        // The task holds the handler until `stop` cancels it.
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let channel = context.channel
        pinger = context.eventLoop.scheduleRepeatedTask(initialDelay: pingInterval, delay: pingInterval) { _ in
            handler.value.ping(channel)
        }
    }

    /// A peer that has not answered the previous ping by the next one is gone. While reading
    /// is paused its pong could not be read, so nothing is judged (or sent) until it resumes.
    private func ping(_ channel: any Channel) {
        guard let connection, !readingPaused else { return }
        if awaitingPong {
            channel.close(promise: nil)
            return
        }
        awaitingPong = true
        connection.sendControl(WebSocketFrame(fin: true, opcode: .ping, data: channel.allocator.buffer(capacity: 0)))
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let connection else { return }
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            guard let text = String(validating: frame.unmaskedData.readableBytesView, as: UTF8.self) else {
                connection.close(code: 1007, reason: "text frames must be valid UTF-8")
                return
            }
            switch connection.receive(text, hub: hub) {
            case .queued(let pauseReading):
                if pauseReading { readingPaused = true }
            case .refused:
                connection.close(code: 1008, reason: "too many requests in flight")
            }
        case .binary:
            // Answered here, as a ping frame is, at once and in the order frames arrive.
            _ = connection.send(LiveFrame.error("invalid", "frames are JSON text"))
        case .ping:
            // Answered only while the socket takes data: a client that pings without reading
            // would have its pongs pile up unsent. RFC 6455 §5.5.3 lets a pong answer only
            // the latest ping.
            if context.channel.isWritable {
                connection.sendControl(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData))
            }
        case .pong:
            awaitingPong = false
        case .connectionClose:
            connection.closeReceived(frame.unmaskedData)
        default:
            break
        }
    }

    /// The server is shutting down gracefully: it waits for every connection to close, so
    /// tell the client (it reconnects to the next server). A client whose side of the
    /// socket ended without a close frame is gone: the server accepts half-closed sockets,
    /// so without this its side would stay open until the next unanswered ping.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is LiveConnection.ResumeReading {
            readingPaused = false
            awaitingPong = false
            if readWaiting {
                readWaiting = false
                context.read()
            }
            return
        }
        if event is ChannelShouldQuiesceEvent {
            connection?.close(code: 1001, reason: "server shutting down")
            return
        }
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Held back while the client's requests queue up; NIO asks again after each read.
    func read(context: ChannelHandlerContext) {
        if readingPaused {
            readWaiting = true
        } else {
            context.read()
        }
    }

    /// A message over the size limit or split into too many fragments is refused with a
    /// close frame (1009), a broken fragment sequence or a frame `LiveFrameCheck` refuses likewise (1002);
    /// the frame decoder's own errors are answered by NIO's protocol error handler, which
    /// closes the socket.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case let violation as LiveFrameCheck.Violation:
            connection?.close(code: 1002, reason: violation.reason)
        case let error as NIOWebSocketFrameAggregator.Error:
            switch error {
            case .accumulatedFrameSizeIsTooLarge, .tooManyFragments, .nonFinalFragmentSizeIsTooSmall:
                connection?.close(code: 1009, reason: "message too large or in too many fragments")
            default:
                connection?.close(code: 1002, reason: "fragments out of order")
            }
        case is NIOWebSocketError:
            break
        default:
            context.close(promise: nil)
        }
    }

    private func stop() {
        expiry?.cancel()
        expiry = nil
        pinger?.cancel()
        pinger = nil
        if let connection {
            self.connection = nil
            hub.disconnect(connection)
        }
    }
}
