import Hummingbird

/// Applies the per-user limits: writes (POST, PATCH, DELETE) and reads (GET, HEAD) each
/// have their own bucket, so a client reading in a loop cannot take a user's writes, nor
/// a client writing in a loop their reads. Over the limit: 429 with `Retry-After`.
/// Requests without a user (health, metrics, the web client's files) are not limited here.
/// WebSocket upgrades, which never reach the router, take from the same read buckets
/// (`LiveServerChannel`).
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = ChatFlowRequestContext
    let writes: RateLimiter
    let reads: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let user = context.user else { return try await next(request, context) }
        let reading = request.method == .get || request.method == .head
        if let wait = (reading ? reads : writes).take(user) {
            let seconds = Self.retryAfterSeconds(wait)
            throw ProblemDetail(.tooManyRequests, "too many \(reading ? "reads" : "writes"); retry in \(seconds) s", headers: [.retryAfter: String(seconds)])
        }
        return try await next(request, context)
    }

    /// A day: a wait longer than this (a rate set tiny) is said as a day, not overflowed.
    static let longestRetryAfter = 86_400

    /// Whole seconds for `Retry-After`, at least 1.
    static func retryAfterSeconds(_ wait: Double) -> Int {
        guard wait < Double(longestRetryAfter) else { return longestRetryAfter }
        return max(1, Int(wait.rounded(.up)))
    }
}
