import ChatFlowStorage

/// A message's id: the log id of its `message.created` event.
///
/// Messages therefore sort by the server's commit time, never by a client's clock.
public struct MessageID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let ulid: ULID

    public init(_ ulid: ULID) {
        self.ulid = ulid
    }

    /// Parses the 26-character text form, as it appears in URLs and JSON.
    public init(parsing text: String) throws(ChatFlowError) {
        do {
            self.ulid = try ULID.parse(text)
        } catch {
            throw .invalid("message id is not a valid id: \(error)")
        }
    }

    public var description: String { ulid.description }

    public static func < (lhs: MessageID, rhs: MessageID) -> Bool {
        lhs.ulid < rhs.ulid
    }
}
