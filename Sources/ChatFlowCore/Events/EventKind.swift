/// The kind of a change event.
///
/// The raw value is the byte written after the format version in every encoded event, so
/// it is stable forever: never renumber or reuse a code, only add new ones.
public enum EventKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case chatCreated = 1
    case chatUpdated = 2
    case memberJoined = 3
    case memberLeft = 4
    case messagePosted = 5
    case messageEdited = 6
    case messageDeleted = 7
    case reactionAdded = 8
    case reactionRemoved = 9
    case readMarkerMoved = 10

    /// The name clients see in WebSocket frames (`"kind"`, SPEC §4).
    public var wireName: String {
        switch self {
        case .chatCreated: "chat.created"
        case .chatUpdated: "chat.updated"
        case .memberJoined: "member.joined"
        case .memberLeft: "member.left"
        case .messagePosted: "message.created"
        case .messageEdited: "message.edited"
        case .messageDeleted: "message.deleted"
        case .reactionAdded: "reaction.added"
        case .reactionRemoved: "reaction.removed"
        case .readMarkerMoved: "read.moved"
        }
    }

    public var description: String { wireName }
}
