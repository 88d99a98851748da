import Foundation
import HTTPTypes

/// What is wrong with a WebSocket upgrade request's headers, in words, so that a client
/// can see what to fix. NIO's checks: `Upgrade` lists `websocket`, and there is exactly one
/// `Sec-WebSocket-Key` and one `Sec-WebSocket-Version`, which is 13 (a field given twice, or
/// holding a comma-separated list, counts as several). And RFC 6455 §4.1's, which NIO lets
/// pass: `Connection` lists `upgrade`, and the key is 16 bytes in base64.
enum UpgradeRequestCheck {
    /// The problem with a request carrying these header values as an upgrade to a
    /// WebSocket; nil when they are well formed.
    static func problem(
        upgrade: [String], connection: [String], versions: [String], keys: [String], contentLength: [String] = [], transferEncoding: [String] = []
    ) -> ProblemDetail? {
        let protocols = upgrade.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard protocols.contains("websocket") else {
            return ProblemDetail(.upgradeRequired, "open a WebSocket here: GET /ws with Upgrade: websocket and a token",
                                 headers: [.upgrade: "websocket"])
        }
        let versions = values(versions)
        guard versions == ["13"] else {
            let asked = versions.isEmpty
                ? "a WebSocket upgrade without Sec-WebSocket-Version" : "WebSocket version \(versions.joined(separator: ", "))"
            return ProblemDetail(.upgradeRequired, "\(asked) is not supported: send Sec-WebSocket-Version: 13",
                                 headers: [.upgrade: "websocket", .secWebSocketVersion: "13"])
        }
        let keys = values(keys)
        guard keys.count == 1 else {
            return ProblemDetail(.badRequest, "a WebSocket upgrade needs exactly one Sec-WebSocket-Key")
        }
        guard Data(base64Encoded: keys[0])?.count == 16 else {
            return ProblemDetail(.badRequest, "Sec-WebSocket-Key must be 16 random bytes in base64 (24 characters)")
        }
        guard values(connection).contains(where: { $0.lowercased() == "upgrade" }) else {
            return ProblemDetail(.badRequest, "a WebSocket upgrade needs Connection: Upgrade")
        }
        // NIO reads such a body, switches protocols, and the socket's first frame is lost.
        guard transferEncoding.isEmpty, values(contentLength).allSatisfy({ $0 == "0" }) else {
            return ProblemDetail(.badRequest, "a WebSocket upgrade is a GET without a body; send frames once the socket is open")
        }
        return nil
    }

    static func problem(in fields: HTTPFields) -> ProblemDetail? {
        problem(upgrade: fields[values: .upgrade], connection: fields[values: .connection],
                versions: fields[values: .secWebSocketVersion], keys: fields[values: .secWebSocketKey],
                contentLength: fields[values: .contentLength], transferEncoding: fields[values: .transferEncoding])
    }

    /// The values of a header's fields, comma-separated lists split.
    private static func values(_ fields: [String]) -> [String] {
        fields.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
