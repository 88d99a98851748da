import ChatFlowCore

/// Picks, from the log events a notifications replay reads, those the user would have heard
/// of live when they happened, and still may: messages and renames of a chat they were a
/// member of then (their own too, and not a message posted before they were added), and
/// are a member of now (nothing of a chat they have left or were removed from reaches them,
/// not even a message's text as it is now); others' reactions to their messages; their own
/// joins and leaves, and chats they created (as their joining); their own read markers.
///
/// Membership then is followed through the replay: it starts, per chat, from what it was
/// before the replayed range (`membershipBefore`, found by reading the range once ahead)
/// and changes with each join or leave of the user.
struct NotificationReplayFilter {
    let user: UserID
    let reader: ChatFlowReader
    /// Per chat the user joined or left in the range: whether they were a member before it.
    let membershipBefore: [ChatID: Bool]
    private var memberThen: [ChatID: Bool] = [:]
    private var memberNow: [ChatID: Bool] = [:]

    init(user: UserID, reader: ChatFlowReader, membershipBefore: [ChatID: Bool]) {
        self.user = user
        self.reader = reader
        self.membershipBefore = membershipBefore
    }

    /// Notes, from one of the range's events, how the user's membership was before the
    /// range: the opposite of what their first join or leave in a chat did.
    static func noteMembershipBefore(_ logged: LoggedEvent, of user: UserID, in before: inout [ChatID: Bool]) {
        switch logged.event {
        case .memberJoined(let joined) where joined.user == user:
            if before[joined.chat] == nil { before[joined.chat] = false }
        case .memberLeft(let left) where left.user == user:
            if before[left.chat] == nil { before[left.chat] = true }
        case .chatCreated where logged.actor == user:
            before[ChatID(logged.id)] = false
        default:
            break
        }
    }

    /// Forgets who is a member now, so that a removal while a long replay runs is seen
    /// (called once per page of the log).
    mutating func refresh() {
        memberNow.removeAll(keepingCapacity: true)
    }

    /// Whether the replay carries `logged`, an event of `chat`; events must come in log order.
    mutating func admits(_ logged: LoggedEvent, in chat: ChatID) throws -> Bool {
        switch logged.event {
        case .memberJoined(let joined):
            guard joined.user == user else { return false }
            memberThen[chat] = true
            return true
        case .memberLeft(let left):
            guard left.user == user else { return false }
            memberThen[chat] = false
            return true
        case .chatCreated:
            // Their own chat: its creation is their first joining.
            guard logged.actor == user else { return false }
            memberThen[chat] = true
            return true
        case .messagePosted, .messageEdited, .messageDeleted, .chatUpdated:
            return try isMemberThenAndNow(chat)
        case .reactionAdded(let added):
            return try isReaction(to: added.message, by: logged.actor, in: chat)
        case .reactionRemoved(let removed):
            return try isReaction(to: removed.message, by: logged.actor, in: chat)
        case .readMarkerMoved:
            // Their own marker, while they are still in the chat.
            return try logged.actor == user && isMemberNow(chat)
        default:
            return false
        }
    }

    /// Someone else's reaction, added or taken back, to one of the user's messages.
    private mutating func isReaction(to message: MessageID, by actor: UserID, in chat: ChatID) throws -> Bool {
        guard try actor != user && isMemberThenAndNow(chat) else { return false }
        return try reader.messageFacts(message)?.author == user
    }

    private mutating func isMemberThenAndNow(_ chat: ChatID) throws -> Bool {
        let now = try isMemberNow(chat)
        return now && (memberThen[chat] ?? membershipBefore[chat] ?? now)
    }

    private mutating func isMemberNow(_ chat: ChatID) throws -> Bool {
        if let known = memberNow[chat] { return known }
        let member = try reader.role(of: user, in: chat) != nil
        memberNow[chat] = member
        return member
    }
}
