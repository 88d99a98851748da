import NIOCore
import NIOHTTP1

/// Ends a connection that has not yet had a whole first request head accepted:
/// - when `timeout` passes (one that sends nothing, or its head a byte at a time, would
///   otherwise hold a file descriptor forever);
/// - at once when the server shuts down gracefully (no other handler would end it, so the
///   shutdown would wait for it);
/// - after a head NIO cannot parse, once NIO's handler has answered it 400 (nothing else
///   closes the connection then, and the upgrader would wait for a head forever).
///
/// The last handler of the pipeline until the upgrader decides: removed when it does (for
/// `/ws`, after the token is checked). From then on the HTTP handlers idle the connection
/// out and let a request in flight finish, and a WebSocket is kept alive by its pings.
final class FirstRequestDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    static let name = "chatflow.first-request-deadline"
    /// The most a connection waits for its first request head, whatever the idle time.
    static let longest = TimeAmount.seconds(10)

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard deadline == nil else { return }
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }
}
