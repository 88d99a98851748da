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
}
