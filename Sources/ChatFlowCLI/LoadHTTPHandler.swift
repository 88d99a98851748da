import NIOCore
import NIOHTTP1

/// Turns `Exchange`s written to the channel into HTTP/1.1 requests and completes each
/// exchange's promise with its response. Responses come back in request order, so a FIFO of
/// promises pairs them up, whether the pool sends one request at a time or pipelines.
final class LoadHTTPHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Exchange
    typealias OutboundOut = HTTPClientRequestPart

    struct Exchange: Sendable {
        let request: LoadHTTPClient.Request
        let response: EventLoopPromise<LoadHTTPClient.Response>
    }

    private let authority: String
    private var waiting: [EventLoopPromise<LoadHTTPClient.Response>] = []
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?

    init(authority: String) {
        self.authority = authority
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        let request = exchange.request
        waiting.append(exchange.response)
        var headers = HTTPHeaders()
        headers.reserveCapacity(5)
        headers.add(name: "Host", value: authority)
        if let authorization = request.authorization { headers.add(name: "Authorization", value: authorization) }
        if let body = request.body {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.readableBytes))
        } else if request.method == .POST || request.method == .PUT || request.method == .PATCH {
            headers.add(name: "Content-Length", value: "0")
        }
        context.write(wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: request.method, uri: request.path, headers: headers))), promise: nil)
        if let body = request.body {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let responseHead):
            head = responseHead
            body = nil
        case .body(var part):
            if body == nil { body = part } else { body!.writeBuffer(&part) }
        case .end:
            guard let responseHead = head, !waiting.isEmpty else { return }
            head = nil
            let promise = waiting.removeFirst()
            let response = LoadHTTPClient.Response(
                status: Int(responseHead.status.code), body: body ?? context.channel.allocator.buffer(capacity: 0),
                keepAlive: responseHead.isKeepAlive)
            body = nil
            if !response.keepAlive { context.close(promise: nil) }
            promise.succeed(response)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(LoadError("the server closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: any Error) {
        let failed = waiting
        waiting.removeAll()
        for promise in failed { promise.fail(error) }
    }
}
