import Foundation
import HTTPTypes
import Hummingbird

/// Lets web clients served from other origins (`CHATFLOW_CORS_ORIGINS`) call the API from a
/// browser: Hummingbird's `CORSMiddleware` answers their preflights and marks their
/// responses, errors included. Requests from any other origin pass through unmarked, so
/// the browser keeps their answers from the page.
///
/// The API's own headers a client acts on (`Retry-After` on a 429, `Location` of what a
/// POST made, `X-Request-Id` to report) are exposed on every response to an allowed origin:
/// browsers read `Access-Control-Expose-Headers` from the response itself, not from the
/// preflight where `CORSMiddleware` puts it. Every response says `Vary: Origin`, so that a
/// cache never hands one origin's answer (marked or not) to another.
struct CrossOriginMiddleware: RouterMiddleware {
    typealias Context = ChatFlowRequestContext

    /// The allowed origins in canonical form (`https://app.example.com`); `*` allows any.
    let origins: Set<String>
    private let cors = CORSMiddleware<Context>(
        allowOrigin: .originBased,
        allowHeaders: [.accept, .authorization, .contentType, HTTPField.Name("Idempotency-Key")!, HTTPField.Name("X-Request-Id")!],
        allowMethods: [.get, .post, .patch, .delete],
        exposedHeaders: Self.exposed,
        maxAge: .seconds(600))

    static let exposed = ["Retry-After", "Location", "X-Request-Id"]

    /// `origins` must each pass `canonical(_:)` (the configuration is validated before).
    init(origins: [String]) {
        self.origins = Set(origins.compactMap(Self.canonical))
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        if let origin = request.headers[.origin], origin != "null", origins.contains("*") || origins.contains(origin) {
            // A preflight names the method it asks for; any other OPTIONS is an ordinary request.
            if request.method == .options && request.headers[.accessControlRequestMethod] == nil {
                response = try await next(request, context)
            } else {
                response = try await cors.handle(request, context: context, next: next)
                response.headers[.accessControlExposeHeaders] = Self.exposed.joined(separator: ", ")
            }
        } else {
            response = try await next(request, context)
        }
        if !response.headers[values: .vary].contains(where: { $0.lowercased() == "origin" }) {
            response.headers[values: .vary].append("Origin")
        }
        return response
    }

    /// `text` as browsers send an origin: `http` or `https` and a host in lowercase, and the
    /// port only when it is not the scheme's default; nil when it is not an origin (a path,
    /// even `/`, a query, a fragment or user info) so a setting that could never match is
    /// refused instead of ignored. `*` stays `*`.
    static func canonical(_ text: String) -> String? {
        if text == "*" { return text }
        guard let components = URLComponents(string: text),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = components.host?.lowercased(), !host.isEmpty,
              components.path.isEmpty, components.query == nil, components.fragment == nil,
              components.user == nil, components.password == nil,
              text.hasPrefix(components.scheme! + "://") else { return nil }
        let shownHost = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        guard let port = components.port, port != (scheme == "https" ? 443 : 80) else {
            return "\(scheme)://\(shownHost)"
        }
        guard (1...65535).contains(port) else { return nil }
        return "\(scheme)://\(shownHost):\(port)"
    }
}
