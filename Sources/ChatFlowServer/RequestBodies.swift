import ChatFlowCore

/// `POST /chats`
struct CreateChatBody: Decodable {
    let name: String
    let description: String?
    let isPrivate: Bool
}

/// `PATCH /chats/{chatId}`: the fields to change.
struct UpdateChatBody: Decodable {
    let name: String?
    let description: String?
    let isPrivate: Bool?
}

/// `POST /chats/{chatId}/members`: `{}` to join, `{userId}` to add someone.
struct AddMemberBody: Decodable {
    let userId: String?
}

/// `POST /chats/{chatId}/messages`
struct PostMessageBody: Decodable {
    let content: String
    let messageType: MessageTypeField
    let clientMessageId: String?
}

/// A message type, refused with the allowed values named when unknown.
struct MessageTypeField: Decodable {
    let value: MessageType

    init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = MessageType(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "'\(text)' is not one of \(MessageType.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        self.value = value
    }
}

/// `PATCH /messages/{messageId}`
struct EditMessageBody: Decodable {
    let content: String
}

/// `POST /messages/{messageId}/reactions`
struct ReactionBody: Decodable {
    let emoji: String
}

/// `POST /chats/{chatId}/read`
struct ReadMarkerBody: Decodable {
    let messageId: String
}

/// `POST /admin/backup`: where the server writes the backup (a path on its machine).
struct BackupBody: Decodable {
    let to: String
    /// The RocksDB `IDENTITY` of the data directory the caller means to back up, if it
    /// knows it: a server holding another one refuses rather than back that up instead.
    let identity: String?
}
