import Foundation
import ChatFlowCore
import HTTPTypes
import Hummingbird

/// Path and query parameters, parsed with errors that name the parameter.
extension ChatFlowRequestContext {
    func chatID() throws -> ChatID {
        try ChatID(parsing: pathSegment("chatId"))
    }

    func messageID() throws -> MessageID {
        try MessageID(parsing: pathSegment("messageId"))
    }

    func userID() throws -> UserID {
        try UserID(validating: pathSegment("userId"))
    }

    /// A path parameter with its percent-escapes read (RFC 3986: `%62ob` is `bob`), which the
    /// router leaves in place.
    func pathSegment(_ name: String) throws -> String {
        guard let text = try parameters.require(name).removingPercentEncoding else {
            throw ProblemDetail.invalid("\(name) in the path must be percent-encoded UTF-8")
        }
        return text
    }
}

extension Request {
    /// The client's `Idempotency-Key` for a write: a retry with it within 24 hours returns
    /// the first answer and changes nothing.
    var idempotencyKey: String? {
        get throws {
            // Given twice, the fields would be read as one key joined by a comma.
            let keys = headers[values: HTTPField.Name("Idempotency-Key")!]
            guard keys.count <= 1 else {
                throw ProblemDetail.invalid("Idempotency-Key is given \(keys.count) times; send one key")
            }
            guard let key = keys.first else { return nil }
            // A byte that is not UTF-8 (a browser sends é as one Latin-1 byte) reaches us as
            // U+FFFD, so different keys came out the same: refused, with U+FFFD itself.
            guard !key.unicodeScalars.contains("\u{FFFD}") else {
                throw ProblemDetail.invalid("Idempotency-Key must be UTF-8 text (without U+FFFD, which bytes that are not UTF-8 become)")
            }
            return key
        }
    }

    /// `limit`, between 1 and `max`, or `default` when absent: digits only (`Int` would
    /// also take a sign).
    func limit(default value: Int, max: Int = 100) throws -> Int {
        guard let text = try query("limit") else { return value }
        guard text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), let limit = Int(text),
              (1...max).contains(limit) else {
            throw ProblemDetail.invalid("limit must be a whole number from 1 to \(max) (got '\(ProblemDetail.quote(text))')")
        }
        return limit
    }

    /// Refuses a query parameter the request does not take: a misspelt or misplaced one
    /// (`direction` on a search) was ignored, and the client took the answer for what it
    /// asked for.
    func takesOnly(_ names: String...) throws {
        // An empty name (`a=1&&b=2`, `?&`) is a stray separator, not a parameter.
        for (name, _) in uri.queryParameters where !name.isEmpty && !names.contains(String(name)) {
            throw ProblemDetail.invalid(
                "unknown query parameter '\(ProblemDetail.quote(String(name)))'; this request takes \(names.joined(separator: ", "))")
        }
    }

    /// A query parameter, nil when absent. One given twice is refused, as a field given
    /// twice in a body is: which of the two would count is a guess a proxy may make otherwise.
    func query(_ name: String) throws -> String? {
        let values = uri.queryParameters.getAll(name)
        guard values.count <= 1 else {
            throw ProblemDetail.invalid("query parameter '\(name)' is given \(values.count) times; give it once")
        }
        return values.first
    }

    /// A free-text parameter decoded as an HTML form (and `URLSearchParams`) encodes it: `+` is
    /// a space and `%2B` a plus. Nil when absent; a malformed percent-escape is refused.
    func formText(_ name: String) throws -> String? {
        try Self.formText(name, inQuery: uri.query ?? "")
    }

    /// `formText` of a raw query string (the part after `?`); refused when given twice.
    static func formText(_ name: String, inQuery query: String) throws -> String? {
        var found: String?
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts[0] == name else { continue }
            guard found == nil else {
                throw ProblemDetail.invalid("query parameter '\(name)' is given more than once; give it once")
            }
            let raw = parts.count == 2 ? parts[1] : ""
            guard let text = raw.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                throw ProblemDetail.invalid("\(name) is not valid percent-encoded UTF-8 (write % as %25)")
            }
            found = text
        }
        return found
    }

    var cursor: String? {
        get throws { try query("cursor").flatMap { $0.isEmpty ? nil : $0 } }
    }
}
