import Hummingbird

/// Answers a request whose path is a route's but whose method is not with 405 and `Allow`
/// (RFC 9110 §15.5.6), where the router would say 404: a client that sends `PUT /chats/{id}`
/// should learn it has the method wrong, not the path.
///
/// Added to the router after every route, so it wraps only the router's not-found responder
/// (middleware wraps the routes added after it, and the not-found responder at the end): it
/// runs only for requests no route took, and never sees the 404s routes throw themselves
/// (an unknown chat or message). It is the innermost middleware there, so the file
/// middleware serves the web client only on paths that are no route's.
struct MethodCheckMiddleware<Context: RequestContext>: RouterMiddleware {
    /// A route template and the methods it takes, in alphabetical order.
    struct Route: Sendable {
        let path: RouterPath
        let methods: [HTTPRequest.Method]

        func matches(_ segments: [Substring]) -> Bool {
            path.components.count == segments.count && zip(path.components, segments).allSatisfy { $0 ~= $1 }
        }

        /// 1 for a literal segment (one that is its own text), 0 for a capture: Hummingbird's
        /// trie tries literals first, so of two templates that match a path, it takes the
        /// one ahead in this order.
        var precedence: [Int] {
            path.components.map { $0 == .path(Substring($0.description)) ? 1 : 0 }
        }
    }

    let routes: [Route]

    /// `routes` is `router.routes`, read once every route is added. The router is built with
    /// `.autoGenerateHeadEndpoints`, which gives each GET a HEAD only when it builds its
    /// responder, after this: so HEAD is listed here wherever GET is.
    init(routes: [Router<Context>.RouteDescription]) {
        self.routes = Dictionary(grouping: routes, by: \.path.description).values.map { group in
            var methods = group.map(\.method)
            if methods.contains(.get) && !methods.contains(.head) { methods.append(.head) }
            return Route(path: group[0].path, methods: methods.sorted { $0.rawValue < $1.rawValue })
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Split as the router splits: empty segments (a trailing slash) do not count.
        let segments = request.uri.path.split(separator: "/", omittingEmptySubsequences: true)
        // A template that takes the method yet was not chosen is the router's business: 404.
        guard let route = routes.filter({ $0.matches(segments) }).max(by: { $0.precedence.lexicographicallyPrecedes($1.precedence) }),
              !route.methods.contains(request.method)
        else {
            return try await next(request, context)
        }
        // Metrics label the answer by template, as for a route's own answers.
        context.coreContext.endpointPath.value = route.path.description
        let names = route.methods.map(\.rawValue)
        let choices = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " or " + names.last!
        throw ProblemDetail(
            .methodNotAllowed, "\(request.method.rawValue) is not allowed on \(route.path); use \(choices)",
            headers: [.allow: names.joined(separator: ", ")])
    }
}
