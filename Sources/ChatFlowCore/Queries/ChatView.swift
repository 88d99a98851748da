/// A chat as the API shows it.
public struct ChatView: Codable, Equatable, Sendable {
    public let id: String
    public let name: String
    public let description: String
    public let isPrivate: Bool
    public let createdBy: String
    public let createdAt: String
    public let memberCount: Int
}
