import Foundation
/// The token in an `Authorization` header, which must use the Bearer scheme (RFC 6750 §2.1;
/// the scheme is case-insensitive). A header in another scheme, or a bare token, is refused
/// with what to send instead: taking whatever follows the scheme would accept, say, a
/// `Basic` credential's text as if it were meant for this server.
enum BearerToken {
    static func from(authorization header: String) throws(ProblemDetail) -> String {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw ProblemDetail.unauthorized("send the token as Authorization: Bearer <token>")
        }
        // Trimmed natively: Foundation's trimming bridges the string, on every request.
        var token = parts[1]
        while token.first?.isWhitespace == true { token.removeFirst() }
        while token.last?.isWhitespace == true { token.removeLast() }
        guard !token.isEmpty else {
            throw ProblemDetail.unauthorized("the Authorization header has no token after Bearer")
        }
        return String(token)
    }

    /// The token a request carries, nil when none: a Bearer header first, then a browser's
    /// `access_token` (where one counts), and only then is a header in another scheme
    /// refused. A browser cannot set headers on a WebSocket, but sends a site's Basic
    /// credentials (a proxy's login) by itself, beside the token meant for us. Two different
    /// tokens are refused, as two `Authorization` headers are: which user is meant is unclear.
    static func of(authorization: String?, accessToken: String?) throws(ProblemDetail) -> String? {
        if let authorization, let bearer = try? from(authorization: authorization) {
            if let accessToken, accessToken != bearer {
                throw ProblemDetail.unauthorized("the request carries two different tokens (Authorization: Bearer and access_token); send one")
            }
            return bearer
        }
        if let accessToken { return accessToken }
        guard let authorization else { return nil }
        return try from(authorization: authorization)
    }
}
