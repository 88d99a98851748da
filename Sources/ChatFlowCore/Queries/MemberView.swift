/// A chat membership as the API shows it.
public struct MemberView: Codable, Equatable, Sendable {
    public let chatId: String
    public let userId: String
    public let role: String
    public let joinedAt: String
}
