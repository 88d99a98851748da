import NIOCore
import NIOHTTP1

/// Sends the WebSocket upgrade request once the connection is up, and fails the
/// connection's `ready` promise if the server answers with anything but 101 (that response
/// is passed on to this handler by the upgrade handler) or the connection fails first.
/// Removed from the pipeline when the upgrade succeeds.
final class LoadWebSocketUpgradeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    static let name = "load-websocket-upgrade"

    private let authority: String
    private let path: String
    private let authorization: String
    private let ready: EventLoopPromise<Void>

    init(authority: String, path: String, authorization: String, ready: EventLoopPromise<Void>) {
        self.authority = authority
        self.path = path
        self.authorization = authorization
        self.ready = ready
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: authority)
        headers.add(name: "Authorization", value: authorization)
        context.write(wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            ready.fail(LoadError("the WebSocket upgrade was refused: HTTP \(head.status.code)"))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        ready.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        ready.fail(LoadError("the WebSocket connection closed before the upgrade"))
        context.fireChannelInactive()
    }
}
