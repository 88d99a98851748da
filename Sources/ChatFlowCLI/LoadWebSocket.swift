import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// One subscriber's WebSocket connection, opened on a chosen event loop and, when
/// connections are spread over loopback addresses, from a chosen source address.
final class LoadWebSocket: Sendable {
    private let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Connects, upgrades with the token in the `Authorization` header, subscribes to
    /// `subscription.channels` and returns once the server has confirmed them all.
    static func open(
        to address: SocketAddress, target: LoadTarget, from source: SocketAddress?, authorization: String,
        subscribing channels: [String], tag: LoadMessageTag, ledger: DeliveryLedger, on eventLoop: any EventLoop,
        timeout: TimeAmount = .seconds(20)
    ) async throws -> LoadWebSocket {
        let ready = eventLoop.makePromise(of: Void.self)
        let subscription = LoadWebSocketHandler.Subscription(channels: channels, tag: tag, ledger: ledger, ready: ready)
        let authority = target.authority
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(10))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        if let source {
            // Pick the source port at connect() time, so that a port is unique per
            // (source, destination) pair rather than per source address, and ports left
            // in TIME_WAIT by an earlier run can be reused on loopback.
            bootstrap = bootstrap
                .channelOption(ChannelOptions.Types.SocketOption(level: .ip, name: .init(rawValue: Self.ipBindAddressNoPort)), value: 1)
                .bind(to: source)
        }
        bootstrap = bootstrap.channelInitializer { channel in
            let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 20, automaticErrorHandling: true) { channel, _ in
                channel.pipeline.removeHandler(name: LoadWebSocketUpgradeHandler.name).flatMap {
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(LoadWebSocketHandler(subscription))
                    }
                }
            }
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers(
                    withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                try channel.pipeline.syncOperations.addHandler(
                    LoadWebSocketUpgradeHandler(authority: authority, path: "/ws", authorization: authorization, ready: ready),
                    name: LoadWebSocketUpgradeHandler.name)
            }
        }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(to: address).get()
        } catch {
            ready.fail(error)
            throw LoadError("could not open a WebSocket connection to \(address)\(source.map { " from \($0)" } ?? ""): \(error)")
        }
        let deadline = eventLoop.scheduleTask(in: timeout) {
            ready.fail(LoadError("the WebSocket upgrade and subscriptions took longer than \(timeout.nanoseconds / 1_000_000_000) s"))
        }
        do {
            try await ready.futureResult.get()
            deadline.cancel()
        } catch {
            deadline.cancel()
            channel.close(promise: nil)
            throw error
        }
        return LoadWebSocket(channel: channel)
    }

    /// Sends a close frame and closes; a disconnect from here on is not counted.
    func close() async {
        channel.pipeline.fireUserInboundEventTriggered(LoadWebSocketHandler.CloseRequest())
        try? await channel.closeFuture.get()
    }

    /// Linux's IP_BIND_ADDRESS_NO_PORT (include/uapi/linux/in.h).
    private static let ipBindAddressNoPort: CInt = 24
}
