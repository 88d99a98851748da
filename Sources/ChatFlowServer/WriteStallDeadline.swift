import NIOCore

/// Closes an HTTP connection whose answers have waited to be sent for `timeout`: a client
/// that asks (pipelining many requests) and never reads kept its connection, and its place
/// under the per-address limit, for as long as it liked, since the idle time counts only
/// what the client sends. NIO marks the channel unwritable once its outbound buffer is
/// full; the clock runs while it stays so.
final class WriteStallDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            deadline?.cancel()
            deadline = nil
        } else if deadline == nil {
            let channel = context.channel
            deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        }
        context.fireChannelWritabilityChanged()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }
}
