import NIOCore
import NIOHTTP1
import NIOWebSocket

/// NIO's WebSocket upgrader, with the request's headers checked first. NIO fails a
/// malformed upgrade (no `Sec-WebSocket-Key`, a version other than 13) without an answer,
/// and the request is lost to the HTTP handlers behind it; here the problem is recorded in
/// `refusal` instead, for the channel to answer before it closes the connection.
struct CheckedWebSocketUpgrader<UpgradeResult: Sendable>: NIOTypedHTTPServerProtocolUpgrader {
    let upgrader: NIOTypedWebSocketServerUpgrader<UpgradeResult>
    let refusal: NIOLoopBoundBox<ProblemDetail?>

    var supportedProtocol: String { upgrader.supportedProtocol }
    var requiredUpgradeHeaders: [String] { upgrader.requiredUpgradeHeaders }

    struct Malformed: Error {}

    func buildUpgradeResponse(channel: any Channel, upgradeRequest: HTTPRequestHead, initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        let headers = upgradeRequest.headers
        func values(_ name: String) -> [String] { headers[name] }
        let tooOld = (upgradeRequest.version.major, upgradeRequest.version.minor) < (1, 1)
            ? ProblemDetail(.badRequest, "a WebSocket upgrade needs HTTP/1.1 (RFC 6455 §4.1)") : nil
        if let problem = tooOld ?? RequestHeadCheck.problem(with: upgradeRequest) ?? UpgradeRequestCheck.problem(
            upgrade: values("Upgrade"), connection: values("Connection"), versions: values("Sec-WebSocket-Version"), keys: values("Sec-WebSocket-Key"),
            contentLength: values("Content-Length"), transferEncoding: values("Transfer-Encoding"))
        {
            refusal.value = problem
            return channel.eventLoop.makeFailedFuture(Malformed())
        }
        // Whatever else NIO refuses is still answered (this runs on the channel's loop).
        let refusal = refusal
        return upgrader.buildUpgradeResponse(channel: channel, upgradeRequest: upgradeRequest, initialResponseHeaders: initialResponseHeaders)
            .flatMapErrorThrowing { error in
                if refusal.value == nil {
                    refusal.value = ProblemDetail(.badRequest, "the WebSocket upgrade request was refused: \(error)")
                }
                throw error
            }
    }

    func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<UpgradeResult> {
        upgrader.upgrade(channel: channel, upgradeRequest: upgradeRequest)
    }
}
