import HTTPTypes
import Hummingbird

/// Browser hardening for the web client: its pages may run only the scripts and styles this
/// server sends (no inline code, nothing from elsewhere) and talk only to this server (its
/// WebSocket included: `'self'` covers ws: and wss: to the same host), and
/// no site may frame them (a framed Leave or Delete could be clicked through); and every
/// answer gets `EveryAnswerHeaders`. The client keeps its
/// token in the page: these keep an injected script or a framing page from reaching it.
/// The policy goes on HTML pages, the documents it governs.
struct WebClientHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    static var policy: String {
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if response.headers[.contentType]?.hasPrefix("text/html") == true {
            response.headers[HTTPField.Name("Content-Security-Policy")!] = Self.policy
            response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        }
        for (name, value) in EveryAnswerHeaders.fields { response.headers[HTTPField.Name(name)!] = value }
        return response
    }
}
