/// Each user's own messages across all chats, and in each chat, newest first; deleted
/// messages drop out.
public struct UserIndexProjection: Projection {
    public static let name = "user_messages"
    /// 2: an author's messages per chat (`UserIndexKeys.chatEntry`).
    public static let version = 2

    public init() {}

    public func apply(_ event: LoggedEvent, to rows: ProjectionRows) throws {
        switch event.event {
        case .messagePosted(let posted):
            let message = MessageID(event.id)
            rows.put(UserIndexKeys.entry(event.actor, message), posted.chat.ulid.bytes)
            rows.put(UserIndexKeys.author(message), UserIndexKeys.authorValue(posted.chat, event.actor))
            rows.put(UserIndexKeys.chatEntry(posted.chat, event.actor, message), [])

        case .messageDeleted(let deletion):
            guard let value = try rows.get(UserIndexKeys.author(deletion.message)),
                  let (chat, author) = UserIndexKeys.decodeAuthorValue(value) else { return }
            rows.delete(UserIndexKeys.entry(author, deletion.message))
            rows.delete(UserIndexKeys.chatEntry(chat, author, deletion.message))
            rows.delete(UserIndexKeys.author(deletion.message))

        case .chatCreated, .chatUpdated, .memberJoined, .memberLeft, .messageEdited, .reactionAdded, .reactionRemoved, .readMarkerMoved:
            break
        }
    }
}
