import HTTPTypes
import Hummingbird

/// Lets web clients served from other origins (`CHATFLOW_CORS_ORIGINS`) call the API from a
/// browser: Hummingbird's `CORSMiddleware` answers their preflights and marks their
/// responses, errors included. Requests from any other origin pass through untouched, so
/// the browser keeps their answers from the page.
///
/// The API's own headers a client acts on (`Retry-After` on a 429, `Location` of what a
/// POST made, `X-Request-Id` to report) are exposed on every response to an allowed origin:
/// browsers read `Access-Control-Expose-Headers` from the response itself, not from the
/// preflight where `CORSMiddleware` puts it.
struct CrossOriginMiddleware: RouterMiddleware {
    typealias Context = ChatFlowRequestContext

    /// The allowed origins, as browsers send them (`https://app.example.com`); `*` allows any.
    let origins: Set<String>
    private let cors = CORSMiddleware<Context>(
        allowOrigin: .originBased,
        allowHeaders: [.accept, .authorization, .contentType, HTTPField.Name("Idempotency-Key")!, HTTPField.Name("X-Request-Id")!],
        allowMethods: [.get, .head, .post, .patch, .delete, .options],
        exposedHeaders: Self.exposed,
        maxAge: .seconds(600))

    static let exposed = ["Retry-After", "Location", "X-Request-Id"]

    init(origins: [String]) {
        self.origins = Set(origins)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], origin != "null", origins.contains("*") || origins.contains(origin) else {
            return try await next(request, context)
        }
        var response = try await cors.handle(request, context: context, next: next)
        response.headers[.accessControlExposeHeaders] = Self.exposed.joined(separator: ", ")
        return response
    }

    /// Whether `text` is an origin as a browser sends it: `http` or `https`, a host, an
    /// optional port, and nothing after (no path, not even `/`).
    static func isOrigin(_ text: String) -> Bool {
        guard text == "*" || text.hasPrefix("http://") || text.hasPrefix("https://") else { return false }
        if text == "*" { return true }
        let rest = text.drop { $0 != "/" }.dropFirst(2)
        return !rest.isEmpty && !rest.contains("/") && !rest.contains(where: \.isWhitespace) && !rest.contains("@")
    }
}
