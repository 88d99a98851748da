import Hummingbird

/// Counts requests and times them by route template (not raw path, so ids do not explode
/// the label set). The WebSocket route is left out: an upgraded request never "finishes".
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/ws" { return try await next(request, context) }
        let started = ContinuousClock.now
        let response = try await next(request, context)
        metrics.recordRequest(
            route: context.endpointPath ?? "unmatched", method: Self.label(request.method),
            status: Int(response.status.code), duration: ContinuousClock.now - started)
        return response
    }

    /// The standard methods are labelled; the others NIO's parser lets through (WebDAV's
    /// and more, some thirty) are `other`, so a client probing methods adds few series.
    static func label(_ method: HTTPRequest.Method) -> String {
        switch method {
        case .get, .head, .post, .put, .delete, .patch, .options, .connect, .trace: method.rawValue
        default: "other"
        }
    }
}
