import ChatFlowCore
import Foundation
import Hummingbird

/// Refuses a path that decodes to control characters (400). Files are served by name, and
/// the file system ends a name at a NUL: `/app.js%00.html` was served as `app.js` with the
/// type of an HTML page. No route or file of ours has such a path.
///
/// Also refuses a query parameter name with a percent-escape: every name of ours is plain
/// ASCII, and `?lim%69t=3` was ignored here while a proxy that decodes names sees a limit
/// (or, beside `limit=7`, a limit given twice, which is refused for that reason).
struct PathCheckMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Escapes that do not decode to UTF-8 are refused too: the file middleware decodes
        // them its own way, keeping a NUL next to them (`/app.js%00%FF.html`).
        guard let path = request.uri.path.removingPercentEncoding else {
            throw ProblemDetail.invalid("the path is not valid percent-encoded UTF-8")
        }
        try Validation.requireNoControls(path, field: "the path", allowingLineBreaks: false)
        if let query = request.uri.query, QueryString.hasEscapedName(query) {
            throw ProblemDetail.invalid("query parameter names are written without percent-escapes")
        }
        return try await next(request, context)
    }
}
