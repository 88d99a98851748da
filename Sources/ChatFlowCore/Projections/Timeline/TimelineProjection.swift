/// Each chat's messages in order; edits replace the content, deletes leave a tombstone.
public struct TimelineProjection: Projection {
    public static let name = "timeline"
    public static let version = 1

    public init() {}

    public func apply(_ event: LoggedEvent, to rows: ProjectionRows) throws {
        switch event.event {
        case .messagePosted(let posted):
            let message = MessageID(event.id)
            rows.put(TimelineKeys.message(posted.chat, message), MessageRecord(
                author: event.actor, type: posted.type, content: posted.content, editedAt: nil, deleted: false).encoded())
            rows.put(TimelineKeys.messageChat(message), posted.chat.ulid.bytes)

        case .messageEdited(let edit):
            let key = TimelineKeys.message(edit.chat, edit.message)
            guard var record = try rows.get(key).map(MessageRecord.init(decoding:)), !record.deleted else { return }
            record.content = edit.content
            record.editedAt = event.timeMilliseconds
            rows.put(key, record.encoded())

        case .messageDeleted(let deletion):
            let key = TimelineKeys.message(deletion.chat, deletion.message)
            guard var record = try rows.get(key).map(MessageRecord.init(decoding:)), !record.deleted else { return }
            record.content = ""
            record.deleted = true
            rows.put(key, record.encoded())

        case .chatCreated, .chatUpdated, .memberJoined, .memberLeft, .reactionAdded, .reactionRemoved, .readMarkerMoved:
            break
        }
    }
}
