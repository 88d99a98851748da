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
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty else {
            throw ProblemDetail.unauthorized("the Authorization header has no token after Bearer")
        }
        return token
    }
}
