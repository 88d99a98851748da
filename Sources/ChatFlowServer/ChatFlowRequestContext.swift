import ChatFlowCore
import Hummingbird
import NIOCore

/// The request context of every route: who is asking (once authenticated).
public struct ChatFlowRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated user; set by `AuthenticationMiddleware`.
    public var user: UserID?
    /// When the caller's token stops being accepted (its `exp` plus the leeway), in Unix seconds.
    public var tokenExpiry: Double?
    /// Why the token the request carried was refused, if it was.
    var refusedToken: ProblemDetail?
    /// The connection the request came on; a WebSocket that stops reading is closed through it.
    public let channel: any Channel

    public init(source: Source) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Bodies are read by `RequestBody`, which enforces the server's own limit.
    public var maxUploadSize: Int { 64 * 1024 }

    /// The authenticated user, or 401 (saying what was wrong with the token, if one came).
    public func requireUser() throws -> UserID {
        if let refusedToken { throw refusedToken }
        guard let user else { throw ProblemDetail.unauthorized("sign in: send Authorization: Bearer <token>") }
        return user
    }
}
