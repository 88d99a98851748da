import ChatFlowCore
import Hummingbird
import Logging

/// Turns every error a route throws into a problem response. Anything unexpected becomes a
/// 500 that names the request id and is logged with the error, which the client never sees.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            if let problem = ProblemDetail.from(error) {
                return try problem.response(from: request, context: context)
            }
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            return try ProblemDetail(.internalServerError, "an internal error occurred; quote request id \(context.id) when reporting it")
                .response(from: request, context: context)
        }
    }
}
