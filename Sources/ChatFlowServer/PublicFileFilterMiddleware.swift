import Foundation
import Hummingbird

/// Keeps from the file middleware what a directory of web files may hold but must not
/// serve: hidden files and directories (`.git`, `.env`), and a file asked for as a
/// directory (`/app.js/`, which it served without a content type). Both are 404, as a file
/// that is not there.
struct PublicFileFilterMiddleware<Context: RequestContext>: RouterMiddleware {
    let directory: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get || request.method == .head else { return try await next(request, context) }
        // Every GET passes here, the API's too: decoded only when there is something to decode.
        let raw = request.uri.path
        let path = raw.contains("%") ? raw.removingPercentEncoding ?? raw : raw
        // A segment starting with a dot follows a slash (the path starts with one).
        if path.contains("/.") {
            throw ProblemDetail(.notFound, "no such file")
        }
        if path.count > 1, path.hasSuffix("/") {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory + String(path.dropLast()), isDirectory: &isDirectory), !isDirectory.boolValue {
                throw ProblemDetail(.notFound, "no such file")
            }
        }
        return try await next(request, context)
    }
}
