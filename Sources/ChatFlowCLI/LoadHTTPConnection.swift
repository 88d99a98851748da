import NIOCore
import NIOHTTP1
import NIOPosix

/// One keep-alive HTTP/1.1 connection of the pool.
final class LoadHTTPConnection: Sendable {
    let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    static func connect(to target: LoadTarget, on eventLoop: any EventLoop) async throws -> LoadHTTPConnection {
        let authority = target.authority
        let channel = try await ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(10))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(LoadHTTPHandler(authority: authority))
                }
            }
            .connect(to: target.address(spreading: false))
            .get()
        return LoadHTTPConnection(channel: channel)
    }

    var isActive: Bool { channel.isActive }

    func execute(_ request: LoadHTTPClient.Request) -> EventLoopFuture<LoadHTTPClient.Response> {
        let promise = channel.eventLoop.makePromise(of: LoadHTTPClient.Response.self)
        channel.writeAndFlush(LoadHTTPHandler.Exchange(request: request, response: promise)).whenFailure { error in
            promise.fail(error)
        }
        return promise.futureResult
    }

    func close() {
        channel.close(promise: nil)
    }
}
