/// One emoji on one message: how many, who, and whether the viewer is among them.
public struct ReactionSummaryView: Codable, Equatable, Sendable {
    public let emoji: String
    public let count: Int
    public let users: [String]
    public let reactedByMe: Bool
}
