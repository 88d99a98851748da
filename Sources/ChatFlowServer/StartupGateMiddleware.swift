import ChatFlowCore
import Hummingbird

/// Answers the API with 503 and `Retry-After` while the projections are still catching up
/// with what the log held at the start (after a restart that gave a projection a new
/// version, that can be the whole log): reads would see part of the history, and writes
/// would wait for the whole replay. Operations routes and the web client stay open.
struct StartupGateMiddleware: RouterMiddleware {
    typealias Context = ChatFlowRequestContext
    let projector: Projector

    static let gatedPrefixes = ["/chats", "/messages", "/users"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if !projector.hasReachedStart, Self.gatedPrefixes.contains(where: { request.uri.path.hasPrefix($0) }) {
            throw ProblemDetail(
                .serviceUnavailable, "the server is starting: projections are catching up with the change log; retry shortly",
                headers: [.retryAfter: "1"])
        }
        return try await next(request, context)
    }
}
