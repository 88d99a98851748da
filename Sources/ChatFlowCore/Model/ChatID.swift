import ChatFlowStorage

/// A chat's id: the log id of its `chat.created` event.
///
/// Chats therefore sort by creation time, and the id costs nothing extra to allocate.
public struct ChatID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let ulid: ULID

    public init(_ ulid: ULID) {
        self.ulid = ulid
    }

    /// Parses the 26-character text form, as it appears in URLs and JSON.
    public init(parsing text: String) throws(ChatFlowError) {
        do {
            self.ulid = try ULID.parse(text)
        } catch {
            throw .invalid("chat id is not a valid id: \(error)")
        }
    }

    public var description: String { ulid.description }

    public static func < (lhs: ChatID, rhs: ChatID) -> Bool {
        lhs.ulid < rhs.ulid
    }
}
