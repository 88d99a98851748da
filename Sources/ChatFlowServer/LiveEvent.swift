import ChatFlowCore
import ChatFlowStorage

/// The `event` object of a live frame, built from the logged event alone, so that a replay
/// from the log (`since`) and live delivery produce the same frames for the same event
/// (except that a replay gives message events the message's current text, see `LiveHub`).
package struct LiveEvent: Encodable {
    let kind: String
    var chatId: String?
    var messageId: String?
    var userId: String?
    var message: MessageView?
    var content: String?
    var editedAt: String?
    var emoji: String?
    var createdAt: String?
    var role: String?
    var joinedAt: String?
    var by: String?
    var name: String?
    var description: String?
    var isPrivate: Bool?

    /// The kind of a moved read marker: the user's own, for their other devices, told on
    /// their notifications channel only (``reachesTheChat``).
    static let readMovedKind = "read.moved"

    /// Whether the chat's channel carries it: everything but a read marker, which is no
    /// business of the other members.
    var reachesTheChat: Bool { kind != Self.readMovedKind }

    /// The live form of a logged event and the chat it belongs to (a chat's creation is its
    /// creator's joining).
    package static func from(_ logged: LoggedEvent) -> (chat: ChatID, event: LiveEvent)? {
        let time = RFC3339.format(milliseconds: logged.timeMilliseconds)
        let actor = logged.actor.rawValue
        switch logged.event {
        case .messagePosted(let e):
            let message = MessageView(
                id: logged.id.description, chatId: e.chat.description, userId: actor, content: e.content,
                messageType: e.type.rawValue, createdAt: time, editedAt: nil, deleted: false, reactions: [:])
            return (e.chat, LiveEvent(kind: "message.created", chatId: e.chat.description, messageId: logged.id.description, userId: actor, message: message))
        case .messageEdited(let e):
            return (e.chat, LiveEvent(kind: "message.edited", chatId: e.chat.description, messageId: e.message.description, userId: actor, content: e.content, editedAt: time))
        case .messageDeleted(let e):
            // Who deleted it (the author, or the chat's owner), as `by` says it in the other
            // events; `userId` says the same, as it always has. The message keeps its author.
            return (e.chat, LiveEvent(kind: "message.deleted", chatId: e.chat.description, messageId: e.message.description, userId: actor, by: actor))
        case .reactionAdded(let e):
            return (e.chat, LiveEvent(kind: "reaction.added", chatId: e.chat.description, messageId: e.message.description, userId: actor, emoji: Validation.reaction(e.emoji), createdAt: time))
        case .reactionRemoved(let e):
            return (e.chat, LiveEvent(kind: "reaction.removed", chatId: e.chat.description, messageId: e.message.description, userId: actor, emoji: Validation.reaction(e.emoji)))
        case .memberJoined(let e):
            return (e.chat, LiveEvent(kind: "member.joined", chatId: e.chat.description, userId: e.user.rawValue, role: e.role.rawValue, joinedAt: time, by: actor))
        case .memberLeft(let e):
            return (e.chat, LiveEvent(kind: "member.left", chatId: e.chat.description, userId: e.user.rawValue, by: actor))
        case .chatUpdated(let e):
            return (e.chat, LiveEvent(kind: "chat.updated", chatId: e.chat.description, by: actor, name: e.name, description: e.description, isPrivate: e.isPrivate))
        case .readMarkerMoved(let e):
            return (e.chat, LiveEvent(kind: Self.readMovedKind, chatId: e.chat.description, messageId: e.message.description, userId: actor))
        case .chatCreated:
            // The creator is its first member: their other devices hear of it as of a join
            // (on the notifications channel only, see `LiveHub`).
            let chat = ChatID(logged.id)
            return (chat, LiveEvent(kind: "member.joined", chatId: chat.description, userId: actor, role: MemberRole.owner.rawValue, joinedAt: time, by: actor))
        }
    }

    static func typing(chat: ChatID, user: UserID) -> LiveEvent {
        LiveEvent(kind: "typing", chatId: chat.description, userId: user.rawValue)
    }
}
