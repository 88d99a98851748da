import ChatFlowCore
import Hummingbird

/// Path and query parameters, parsed with errors that name the parameter.
extension ChatFlowRequestContext {
    func chatID() throws -> ChatID {
        try ChatID(parsing: parameters.require("chatId"))
    }

    func messageID() throws -> MessageID {
        try MessageID(parsing: parameters.require("messageId"))
    }
}

extension Request {
    /// `limit`, between 1 and `max`, or `default` when absent.
    func limit(default value: Int, max: Int = 100) throws -> Int {
        guard let text = uri.queryParameters.get("limit") else { return value }
        guard let limit = Int(text), (1...max).contains(limit) else {
            throw ProblemDetail.invalid("limit must be a whole number from 1 to \(max) (got '\(text)')")
        }
        return limit
    }

    var cursor: String? {
        uri.queryParameters.get("cursor").flatMap { $0.isEmpty ? nil : $0 }
    }
}
