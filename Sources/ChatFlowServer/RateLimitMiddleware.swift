import Hummingbird

/// Applies the per-user write limit to every write (POST, PATCH, DELETE): 429 with `Retry-After`.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = ChatFlowRequestContext
    let limiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method != .get && request.method != .head, let user = context.user, let wait = limiter.take(user) {
            let seconds = max(1, Int(wait.rounded(.up)))
            throw ProblemDetail(.tooManyRequests, "too many writes; retry in \(seconds) s", headers: [.retryAfter: String(seconds)])
        }
        return try await next(request, context)
    }
}
