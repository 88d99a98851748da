import ChatFlowCore
import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The request context of every route: who is asking (once authenticated) and the
/// WebSocket handler slot that the upgrade route fills.
public struct ChatFlowRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    /// The authenticated user; set by `AuthenticationMiddleware`.
    public var user: UserID?
    /// When the caller's token expires, in Unix seconds.
    public var tokenExpiry: Double?
    /// The connection the request came on; a WebSocket that stops reading is closed through it.
    public let channel: any Channel

    public init(source: Source) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
    }

    /// Bodies are read by `RequestBody`, which enforces the server's own limit.
    public var maxUploadSize: Int { 64 * 1024 }

    /// The authenticated user, or 401.
    public func requireUser() throws -> UserID {
        guard let user else { throw ProblemDetail.unauthorized("sign in: send Authorization: Bearer <token>") }
        return user
    }
}
