import ChatFlowCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket

/// The server's connections: HTTP/1.1 answered by the router, and `GET /ws` upgraded to a
/// WebSocket that `LiveSocketHandler` runs on the connection's event loop.
///
/// A WebSocket here is a few NIO objects and no task of its own while idle: Hummingbird's
/// WebSocket channel runs each connection as several Swift tasks (handler, reader, writer,
/// pinger), and a suspended task keeps the stack memory of its deepest call, which came to
/// about 25 of the 39 KiB an idle connection cost. The one task left per connection is the
/// server's, waiting for the socket to close so that a graceful shutdown waits for it too.
struct LiveServerChannel: ServerChildChannel, HTTPChannelHandler {
    enum Upgrade: Sendable {
        case webSocket(any Channel)
        case notUpgraded(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        // Boxed: the connection's task keeps an `Upgrade` for as long as the socket is open,
        // and a problem inline made every WebSocket ~1.3 KiB dearer.
        indirect case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, ProblemDetail)
    }

    struct Value: ServerChildChannelValue {
        let upgrade: EventLoopFuture<Upgrade>
        let channel: any Channel
    }

    struct Settings: Sendable {
        var maxFrameSize: Int
        /// The largest request body the routes read; a client announcing more is not told
        /// to go on (`100 Continue`).
        var maxBodyBytes: Int
        var pingInterval: TimeAmount
        var http1 = HTTP1Channel.Configuration()
    }

    let responder: Responder
    let hub: LiveHub
    let verifier: TokenVerifier
    /// The per-user read limit the router applies: an upgrade is a GET, and a client
    /// opening and closing sockets in a loop must not go unlimited because it never
    /// reaches the router.
    let reads: RateLimiter
    let metrics: ServerMetrics
    let settings: Settings
    let connections: ConnectionLimit
    let addresses: AddressConnectionLimit

    init(responder: @escaping Responder, hub: LiveHub, verifier: TokenVerifier, reads: RateLimiter, metrics: ServerMetrics, settings: Settings, connections: ConnectionLimit, addresses: AddressConnectionLimit) {
        self.responder = Self.redirectingUpgrades(responder)
        self.hub = hub
        self.verifier = verifier
        self.reads = reads
        self.metrics = metrics
        self.settings = settings
        self.connections = connections
        self.addresses = addresses
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard connections.admit(channel, logger: logger) else {
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ConnectionRefusal(answer: connections.refusal))
                return Value(upgrade: channel.eventLoop.makeFailedFuture(ConnectionLimit.Full()), channel: channel)
            }
        }
        guard let place = addresses.admit(channel, logger: logger) else {
            return channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ConnectionRefusal(answer: addresses.refusal))
                return Value(upgrade: channel.eventLoop.makeFailedFuture(ConnectionLimit.Full()), channel: channel)
            }
        }
        channel.closeFuture.whenComplete { _ in place.release() }
        return channel.eventLoop.makeCompletedFuture {
            // Why an upgrade was refused, for the answer; nil while none was.
            let refusal = NIOLoopBoundBox<ProblemDetail?>(nil, eventLoop: channel.eventLoop)
            let signedIn = NIOLoopBoundBox<(user: UserID, expires: Double)?>(nil, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<Upgrade>(
                maxFrameSize: settings.maxFrameSize,
                shouldUpgrade: { channel, head in
                    signIn(head, on: channel).map { outcome in
                        switch outcome {
                        case .success(let session):
                            signedIn.value = session
                            return HTTPHeaders()
                        case .failure(let problem):
                            refusal.value = problem
                            return nil
                        }
                    }
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let session = signedIn.value else { throw ChannelError.inappropriateOperationForState }
                        // What follows is WebSocket frames, which that handler must not see.
                        let parseErrors = try channel.pipeline.syncOperations.handler(type: ParseErrorAnswer.self)
                        channel.pipeline.syncOperations.removeHandler(parseErrors, promise: nil)
                        // One read of at most `readBytes` per turn: when the socket handler
                        // pauses reading, no more than that is still on its way to the hub.
                        try channel.syncOptions?.setOption(ChannelOptions.maxMessagesPerRead, value: 1)
                        try channel.syncOptions?.setOption(
                            ChannelOptions.recvAllocator,
                            value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: LiveConnection.readBytes))
                        try channel.pipeline.syncOperations.addHandler(LiveFrameCheck())
                        try channel.pipeline.syncOperations.addHandler(NIOWebSocketFrameAggregator(
                            minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 64,
                            maxAccumulatedFrameSize: settings.maxFrameSize))
                        try channel.pipeline.syncOperations.addHandler(LiveSocketHandler(
                            hub: hub, user: session.user, expires: session.expires, pingInterval: settings.pingInterval))
                        return Upgrade.webSocket(channel)
                    }
                })
            let upgrades = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [CheckedWebSocketUpgrader(upgrader: upgrader, refusal: refusal)],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // From the first request on, Hummingbird answers one it cannot parse,
                        // in order after the answers before it; NIO's handler would answer
                        // too, and ahead of an answer still being written.
                        let nioErrors = try channel.pipeline.syncOperations.handler(type: HTTPServerProtocolErrorHandler.self)
                        channel.pipeline.syncOperations.removeHandler(nioErrors, promise: nil)
                        try channel.pipeline.syncOperations.addHandler(RequestHeadCheck(maxBodyBytes: settings.maxBodyBytes))
                        try channel.pipeline.syncOperations.addHandler(RequestBodyDeadline(timeout: settings.http1.idleTimeout ?? .seconds(60)))
                        try channel.pipeline.syncOperations.addHandler(ConnectionPersistence())
                        try channel.pipeline.syncOperations.addHandler(WriteStallDeadline(timeout: settings.http1.idleTimeout ?? .seconds(60)))
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandlers(settings.http1.additionalChannelHandlers())
                        try channel.pipeline.syncOperations.addHandler(
                            HTTPConnectionStateHandler(idleTimeout: settings.http1.idleTimeout.map { .init($0) }, logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        return refusal.value.map { Upgrade.refused(http, $0) } ?? Upgrade.notUpgraded(http)
                    }
                })
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<Upgrade>(upgradeConfiguration: upgrades)
            configuration.enablePipelining = false  // NIOAsyncChannel pipelines HTTP
            // A first request NIO cannot parse never reaches Hummingbird (nor the upgrader,
            // whose future then never completes): NIO's handler answers it 400 (made a
            // problem by `ParseErrorAnswer`), and `FirstRequestDeadline` closes the connection.
            configuration.enableErrorHandling = true
            configuration.enableResponseHeaderValidation = false  // HTTPTypes validates them
            configuration.decoderConfiguration.maxHeaderFieldSize = settings.http1.httpDecoder.maxHeaderFieldSize
            configuration.decoderConfiguration.maxHeaderListSize = settings.http1.httpDecoder.maxHeaderListSize
            configuration.decoderConfiguration.maxHeaderFieldCount = settings.http1.httpDecoder.maxHeaderFieldCount
            let upgrade = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            let upgradeHandler = try channel.pipeline.syncOperations.handler(type: NIOTypedHTTPServerUpgradeHandler<Upgrade>.self)
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(ParseErrorAnswer(), position: .after(decoder))
            try channel.pipeline.syncOperations.addHandler(ForeignUpgradeFilter(), position: .before(upgradeHandler))
            // Until its first request head arrives a connection belongs to no handler that
            // would time it out or end it at shutdown. A client sends its first request as
            // soon as it connects: connections that send none, at the idle time's 60 s, let a
            // few hundred new ones a second keep the connection limit full.
            let idle = settings.http1.idleTimeout ?? .seconds(60)
            try channel.pipeline.syncOperations.addHandler(
                FirstRequestDeadline(timeout: min(idle, FirstRequestDeadline.longest)), name: FirstRequestDeadline.name, position: .last)
            upgrade.whenComplete { result in
                if case .success(.webSocket) = result { place.release() }
                channel.pipeline.removeHandler(name: FirstRequestDeadline.name, promise: nil)
            }
            return Value(upgrade: upgrade, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgrade.get() {
            case .notUpgraded(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refused(let http, let problem):
                await refuse(http, with: problem, logger: logger)
            case .webSocket(let channel):
                try await withTaskCancellationHandler {
                    try await channel.closeFuture.get()
                } onCancel: {
                    channel.close(promise: nil)
                }
            }
        } catch is ConnectionLimit.Full {
            // Answered and closed by its `ConnectionRefusal`.
        } catch let error as ChannelError where error == .inputClosed {
            logger.trace("connection closed before its first request")
            value.channel.close(promise: nil)
        } catch {
            // A failed upgrade leaves nothing to answer on this connection: close it rather
            // than leave it open.
            logger.debug("connection ended", metadata: ["error": "\(error)"])
            value.channel.close(promise: nil)
        }
    }

    // MARK: - Upgrading

    typealias SignIn = Result<(user: UserID, expires: Double), ProblemDetail>

    /// The user and token expiry of an upgrade request to `/ws` with a valid token
    /// (`Authorization: Bearer`, or `access_token` for browsers), or why it is refused.
    private func signIn(_ head: HTTPRequestHead, on channel: any Channel) -> EventLoopFuture<SignIn> {
        let components = URLComponents(string: head.uri)
        guard components?.path == "/ws" else {
            return channel.eventLoop.makeSucceededFuture(.failure(ProblemDetail(.notFound, "WebSockets open at /ws")))
        }
        // As the router refuses them: an escaped name (`acc%65ss_token`) that a proxy or a
        // log's redaction would not recognise, or a token given twice.
        if let query = components?.percentEncodedQuery {
            if QueryString.hasEscapedName(query) {
                return channel.eventLoop.makeSucceededFuture(.failure(.invalid("query parameter names are written without percent-escapes")))
            }
            let tokens = QueryString.count(of: "access_token", in: query)
            if tokens > 1 {
                return channel.eventLoop.makeSucceededFuture(.failure(.invalid("query parameter 'access_token' is given \(tokens) times; give it once")))
            }
        }
        // As the router refuses two: which one names the user is unclear.
        if head.headers["Authorization"].count > 1 {
            return channel.eventLoop.makeSucceededFuture(.failure(.unauthorized("send one Authorization header, not \(head.headers["Authorization"].count)")))
        }
        let token: String?
        do {
            token = try BearerToken.of(
                authorization: head.headers.first(name: "Authorization"),
                accessToken: components?.queryItems?.first { $0.name == "access_token" }?.value)
        } catch {
            return channel.eventLoop.makeSucceededFuture(.failure(error))
        }
        guard let token, !token.isEmpty else {
            return channel.eventLoop.makeSucceededFuture(.failure(.unauthorized(
                "a WebSocket needs a token: Authorization: Bearer <token>, or access_token=<token> for browsers")))
        }
        let verifier = verifier
        let hub = hub
        let reads = reads
        // A token seen before (a client reconnecting) is settled here on the loop; a new one
        // is checked by a task.
        if let session = verifier.remembered(token) {
            return channel.eventLoop.makeSucceededFuture(Self.admit(session, to: hub, reads: reads))
        }
        return channel.eventLoop.makeFutureWithTask {
            do {
                return Self.admit(try await verifier.verify(token), to: hub, reads: reads)
            } catch {
                return .failure(ProblemDetail.from(error) ?? .unauthorized("the token is not valid"))
            }
        }
    }

    /// A signed-in user, unless they already hold as many sockets as `hub` allows or are
    /// past their read limit.
    private static func admit(_ session: (user: UserID, expires: Double), to hub: LiveHub, reads: RateLimiter) -> SignIn {
        guard hub.hasRoom(for: session.user) else {
            return .failure(ProblemDetail(.tooManyRequests, "too many WebSockets open for this user (\(hub.perUserLimit)); close one first",
                                          headers: [.retryAfter: "5"]))
        }
        if let wait = reads.take(session.user) {
            let seconds = RateLimitMiddleware.retryAfterSeconds(wait)
            return .failure(ProblemDetail(.tooManyRequests, "too many reads; retry in \(seconds) s", headers: [.retryAfter: String(seconds)]))
        }
        return .success(session)
    }

    /// A refused upgrade is answered with its problem, and the connection is closed: the
    /// request may not have been read to its end.
    private func refuse(_ http: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, with problem: ProblemDetail, logger: Logger) async {
        metrics.recordRefusedUpgrade(status: problem.status.code)
        do {
            try await http.executeThenClose { _, outbound in
                let body = try JSONResponse.encoder.encode(problem)
                var fields = problem.headers
                fields[.connection] = "close"
                fields[.contentType] = "application/problem+json"
                fields[.contentLength] = String(body.count)
                for (name, value) in EveryAnswerHeaders.fields { fields[HTTPField.Name(name)!] = value }
                let head = HTTPResponse(status: problem.status, headerFields: fields)
                try await outbound.write(contentsOf: [.head(head), .body(ByteBuffer(bytes: body)), .end(nil)])
            }
        } catch {
            logger.trace("could not answer a refused upgrade", metadata: ["error": "\(error)"])
        }
    }

    /// NIO upgrades only a connection's first request: a well-formed upgrade asked for later
    /// on a kept-alive connection is redirected to the same URI with the connection closed,
    /// so that the client retries it on a new one. A malformed one goes to the router, whose
    /// `/ws` route says what is wrong with it (a redirect would only bring it back).
    private static func redirectingUpgrades(_ responder: @escaping Responder) -> Responder {
        struct RedirectedUpgrade: Error {}
        return { request, responseWriter, channel in
            guard request.headers[.upgrade]?.lowercased() == "websocket", UpgradeRequestCheck.problem(in: request.headers) == nil else {
                try await responder(request, responseWriter, channel)
                return
            }
            var path = request.uri.path
            if let query = request.uri.query { path += "?\(query)" }
            let response = HTTPResponse(status: .temporaryRedirect, headerFields: [.connection: "close", .location: path])
            try await responseWriter.writeResponse(response)
            throw RedirectedUpgrade()
        }
    }
}
