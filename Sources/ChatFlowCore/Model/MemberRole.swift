/// A member's standing in a chat. The raw value is the JSON spelling (`role`).
public enum MemberRole: String, Sendable, CaseIterable {
    /// Created the chat; may remove members and delete any message.
    case owner
    case member

    /// The byte stored in the event log. Stable forever: never renumber, only add.
    public var code: UInt8 {
        switch self {
        case .owner: 1
        case .member: 2
        }
    }

    public init?(code: UInt8) {
        switch code {
        case 1: self = .owner
        case 2: self = .member
        default: return nil
        }
    }
}
