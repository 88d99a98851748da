/// One change to the chat world: what is appended to the log and what every projection
/// is derived from.
///
/// Who made the change is not part of the event but of its `EventEnvelope`, and when it
/// was made is the timestamp of its log id. Each case carries a small payload struct (see
/// `ChangeEvent+Payloads.swift`) so that projections can hand one kind to a helper by type.
public enum ChangeEvent: Equatable, Sendable {
    /// A new chat; its id is this event's log id, and the actor becomes its owner.
    case chatCreated(ChatCreated)
    case chatUpdated(ChatUpdated)
    /// The actor may differ from the user: a member added them.
    case memberJoined(MemberJoined)
    /// The actor equals the user when they left, and differs when they were removed.
    case memberLeft(MemberLeft)
    /// A new message; its id is this event's log id.
    case messagePosted(MessagePosted)
    case messageEdited(MessageEdited)
    case messageDeleted(MessageDeleted)
    case reactionAdded(ReactionAdded)
    case reactionRemoved(ReactionRemoved)
    case readMarkerMoved(ReadMarkerMoved)

    public var kind: EventKind {
        switch self {
        case .chatCreated: .chatCreated
        case .chatUpdated: .chatUpdated
        case .memberJoined: .memberJoined
        case .memberLeft: .memberLeft
        case .messagePosted: .messagePosted
        case .messageEdited: .messageEdited
        case .messageDeleted: .messageDeleted
        case .reactionAdded: .reactionAdded
        case .reactionRemoved: .reactionRemoved
        case .readMarkerMoved: .readMarkerMoved
        }
    }

    /// The chat the event belongs to; nil for `chatCreated`, whose chat id is the event's
    /// own log id, which only the caller holding the `LoggedEvent` knows.
    public var chat: ChatID? {
        switch self {
        case .chatCreated: nil
        case .chatUpdated(let e): e.chat
        case .memberJoined(let e): e.chat
        case .memberLeft(let e): e.chat
        case .messagePosted(let e): e.chat
        case .messageEdited(let e): e.chat
        case .messageDeleted(let e): e.chat
        case .reactionAdded(let e): e.chat
        case .reactionRemoved(let e): e.chat
        case .readMarkerMoved(let e): e.chat
        }
    }
}
