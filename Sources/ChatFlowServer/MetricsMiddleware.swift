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
            route: context.endpointPath ?? "unmatched", method: request.method.rawValue,
            status: Int(response.status.code), duration: ContinuousClock.now - started)
        return response
    }
}
