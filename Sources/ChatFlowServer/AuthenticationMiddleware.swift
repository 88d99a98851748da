import Hummingbird

/// Authenticates every request that carries a token: `Authorization: Bearer <token>`, or,
/// for browsers opening a WebSocket, the `access_token` query parameter. Routes that need a
/// user call `context.requireUser()`, which refuses a token that is present but bad with
/// the reason found here. Open routes (`/healthz`, `/readyz`, `/metrics`, the web client)
/// ignore it: a probe or a proxy's own `Authorization` header must not make them fail.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = ChatFlowRequestContext
    let verifier: TokenVerifier

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        do {
            if let token = try Self.token(in: request) {
                let (user, expires) = try await verifier.verify(token)
                context.user = user
                context.tokenExpiry = expires
                context.logger[metadataKey: "user"] = .string(user.rawValue)
            }
        } catch let problem as ProblemDetail {
            context.refusedToken = problem
        }
        return try await next(request, context)
    }

    /// The request's token, nil when it sends none; throws when its `Authorization` header
    /// is not `Bearer <token>`.
    static func token(in request: Request) throws -> String? {
        let accessToken = request.uri.path == "/ws" ? request.uri.queryParameters.get("access_token") : nil
        return try BearerToken.of(authorization: request.headers[.authorization], accessToken: accessToken)
    }
}
