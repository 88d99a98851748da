import ChatFlowCore
import ChatFlowStorage
import Hummingbird
import Logging

/// Turns every error a route throws into a problem response. Anything unexpected becomes a
/// 500 that names the request id and is logged with the error, which the client never sees.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound && error.body == nil {
            // The router's own answer to a path no route takes: say which, and where the
            // routes are.
            return try ProblemDetail(.notFound, "there is no route for \(request.method) \(request.uri.path); the API is described at /openapi.yaml")
                .response(from: request, context: context)
        } catch {
            if let problem = ProblemDetail.from(error) {
                return try problem.response(from: request, context: context)
            }
            if case StorageError.corrupt? = error as? StorageError {
                // Damage on disk does not heal by itself: said so that it is acted on.
                context.logger.critical("request failed on damaged stored data: stop the server and run `chatflow verify`; a damaged projection is rebuilt with `chatflow rebuild --projection NAME` (ops/runbooks/rebuild-projection.md)", metadata: ["error": "\(String(reflecting: error))"])
            } else {
                context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            return try ProblemDetail(.internalServerError, "an internal error occurred; quote request id \(context.id) when reporting it")
                .response(from: request, context: context)
        }
    }
}
