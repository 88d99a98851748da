/// A message as the API shows it; a deleted one has empty content and `deleted: true`.
public struct MessageView: Codable, Equatable, Sendable {
    public let id: String
    public let chatId: String
    public let userId: String
    public let content: String
    public let messageType: String
    public let createdAt: String
    public let editedAt: String?
    public let deleted: Bool
    public let reactions: [String: Int]

    public init(id: String, chatId: String, userId: String, content: String, messageType: String, createdAt: String, editedAt: String?, deleted: Bool, reactions: [String: Int]) {
        self.id = id
        self.chatId = chatId
        self.userId = userId
        self.content = content
        self.messageType = messageType
        self.createdAt = createdAt
        self.editedAt = editedAt
        self.deleted = deleted
        self.reactions = reactions
    }

    // Encode `editedAt: null` explicitly: clients rely on the field being present.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(chatId, forKey: .chatId)
        try c.encode(userId, forKey: .userId)
        try c.encode(content, forKey: .content)
        try c.encode(messageType, forKey: .messageType)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(editedAt, forKey: .editedAt)
        try c.encode(deleted, forKey: .deleted)
        try c.encode(reactions, forKey: .reactions)
    }
}
