/// A reaction as the API shows it.
public struct ReactionView: Codable, Equatable, Sendable {
    public let messageId: String
    public let userId: String
    public let emoji: String
    public let createdAt: String
}
