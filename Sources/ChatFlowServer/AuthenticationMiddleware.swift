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
        if let token = Self.token(in: request) {
            do {
                let (user, expires) = try await verifier.verify(token)
                context.user = user
                context.tokenExpiry = expires
                context.logger[metadataKey: "user"] = .string(user.rawValue)
            } catch let problem as ProblemDetail {
                context.refusedToken = problem
            }
        }
        return try await next(request, context)
    }

    static func token(in request: Request) -> String? {
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" { return String(parts[1]) }
            return String(header)
        }
        if request.uri.path == "/ws", let token = request.uri.queryParameters.get("access_token") {
            return token
        }
        return nil
    }
}
