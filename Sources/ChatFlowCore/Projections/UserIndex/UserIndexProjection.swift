/// Each user's own messages across all chats, newest first; deleted messages drop out.
public struct UserIndexProjection: Projection {
    public static let name = "user_messages"
    public static let version = 1

    public init() {}

    public func apply(_ event: LoggedEvent, to rows: ProjectionRows) throws {
        switch event.event {
        case .messagePosted(let posted):
            let message = MessageID(event.id)
            rows.put(UserIndexKeys.entry(event.actor, message), posted.chat.ulid.bytes)
            rows.put(UserIndexKeys.author(message), Array(event.actor.rawValue.utf8))

        case .messageDeleted(let deletion):
            guard let author = try rows.get(UserIndexKeys.author(deletion.message)) else { return }
            rows.delete(UserIndexKeys.entry(UserID(unchecked: String(decoding: author, as: UTF8.self)), deletion.message))
            rows.delete(UserIndexKeys.author(deletion.message))

        case .chatCreated, .chatUpdated, .memberJoined, .memberLeft, .messageEdited, .reactionAdded, .reactionRemoved, .readMarkerMoved:
            break
        }
    }
}
