/// One entry of a user's chat list: the chat, what is unread and the newest message.
public struct ChatSummaryView: Codable, Equatable, Sendable {
    public let id: String
    public let name: String
    public let description: String
    public let isPrivate: Bool
    public let createdBy: String
    public let createdAt: String
    public let memberCount: Int
    public let role: String
    public let unreadCount: Int
    public let lastReadMessageId: String?
    public let lastMessage: MessageView?

    /// Every field, with `null` for what is absent (a chat with no messages yet has a
    /// `lastMessage` of `null`, not a missing one), like every other view.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(description, forKey: .description)
        try c.encode(isPrivate, forKey: .isPrivate)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(memberCount, forKey: .memberCount)
        try c.encode(role, forKey: .role)
        try c.encode(unreadCount, forKey: .unreadCount)
        try c.encode(lastReadMessageId, forKey: .lastReadMessageId)
        try c.encode(lastMessage, forKey: .lastMessage)
    }
}
