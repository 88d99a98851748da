import Hummingbird
import Logging

/// One debug line per request answered: method, path (never the query, which may carry a
/// WebSocket's `access_token`), status and time, with the request id the other lines of
/// the request carry. At the default level (info) it costs a level check.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, status: Int(response.status.code), since: started, context)
            return response
        } catch {
            // Answered further out (a problem response, or the connection's own handling).
            log(request, status: (error as? HTTPResponseError)?.status.code, since: started, context)
            throw error
        }
    }

    private func log(_ request: Request, status: Int?, since started: ContinuousClock.Instant, _ context: Context) {
        context.logger.debug("\(request.method) \(request.uri.path) \(status.map(String.init) ?? "failed") in \(Self.milliseconds(ContinuousClock.now - started)) ms")
    }

    private static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.1f", Double(seconds) * 1000 + Double(attoseconds) / 1e15)
    }
}
