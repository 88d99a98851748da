import HTTPTypes

/// What is wrong with a WebSocket upgrade request's headers, in words, so that a client
/// can see what to fix.
enum UpgradeRequestCheck {
    /// The problem with a request carrying these headers as an upgrade to a WebSocket; nil
    /// when they are well formed.
    static func problem(upgrade: String?, version: String?, key: String?) -> ProblemDetail? {
        guard upgrade?.lowercased() == "websocket" else {
            return ProblemDetail(.upgradeRequired, "open a WebSocket here: GET /ws with Upgrade: websocket and a token",
                                 headers: [.upgrade: "websocket"])
        }
        guard version == "13" else {
            let asked = version.map { "version \($0)" } ?? "a request without Sec-WebSocket-Version"
            return ProblemDetail(.upgradeRequired, "WebSocket \(asked) is not supported: send Sec-WebSocket-Version: 13",
                                 headers: [.upgrade: "websocket", .secWebSocketVersion: "13"])
        }
        guard let key, !key.isEmpty else {
            return ProblemDetail(.badRequest, "a WebSocket upgrade needs a Sec-WebSocket-Key header")
        }
        return nil
    }

    static func problem(in fields: HTTPFields) -> ProblemDetail? {
        problem(upgrade: fields[.upgrade], version: fields[.secWebSocketVersion], key: fields[.secWebSocketKey])
    }
}
