import Hummingbird

/// Serves the web client's files whole, whatever `Range` a request asks for.
///
/// Hummingbird's file middleware answered a range starting past the end with a negative
/// `Content-Length`, and one starting at the end with a stray byte after an empty body: the
/// next answer on that keep-alive connection then began with that byte. A suffix range
/// (`bytes=-5`) got the first bytes instead of the last. The files are small and a 200 with
/// the whole file is a valid answer to any range request (RFC 9110 §14.2), so the range
/// headers are dropped before the file middleware sees them.
struct WholeFileMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var whole = request
        if request.headers[.range] != nil || request.headers[.ifRange] != nil {
            var head = request.head
            head.headerFields[.range] = nil
            head.headerFields[.ifRange] = nil
            whole = Request(head: head, body: request.body)
        }
        var response = try await next(whole, context)
        // The file middleware offers ranges on every file it serves: none are served.
        if response.headers[.acceptRanges] != nil { response.headers[.acceptRanges] = "none" }
        return response
    }
}
