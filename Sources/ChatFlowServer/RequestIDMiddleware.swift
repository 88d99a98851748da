import HTTPTypes
import Hummingbird

/// Puts the request id on every log line of the request and on the response
/// (`X-Request-Id`), so a 500 the client reports can be found in the logs.
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.logger[metadataKey: "request"] = .string(context.id)
        var response = try await next(request, context)
        response.headers[HTTPField.Name("X-Request-Id")!] = context.id
        return response
    }
}
