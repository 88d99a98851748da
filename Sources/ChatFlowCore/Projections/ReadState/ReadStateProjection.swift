import ChatFlowStorage

/// Per user per chat: the last message read and how many messages by others came after it,
/// not counting those deleted since (nobody can read them any more).
public struct ReadStateProjection: Projection {
    public static let name = "read_state"
    /// 2: deleted messages are kept apart, so they no longer count as unread.
    public static let version = 2

    public init() {}

    public func apply(_ event: LoggedEvent, to rows: ProjectionRows) throws {
        switch event.event {
        case .chatCreated:
            rows.put(ReadStateKeys.marker(event.actor, ChatID(event.id)), ReadMarker(lastRead: nil, sequence: 0, ownSince: 0).encoded())

        case .memberJoined(let joined):
            let key = ReadStateKeys.marker(joined.user, joined.chat)
            guard try !rows.contains(key) else { return }
            // History from before joining does not count as unread.
            let sequence = try rows.counter(ReadStateKeys.sequence(joined.chat))
            rows.put(key, ReadMarker(lastRead: nil, sequence: sequence, ownSince: 0).encoded())

        case .memberLeft(let left):
            rows.delete(ReadStateKeys.marker(left.user, left.chat))

        case .messagePosted(let posted):
            let sequenceKey = ReadStateKeys.sequence(posted.chat)
            let sequence = try rows.counter(sequenceKey) + 1
            rows.setCounter(sequenceKey, sequence)
            // Under their chat's group: markers scan them (`scan(grouped:)`).
            rows.put(ReadStateKeys.position(posted.chat, MessageID(event.id)), position(sequence, event.actor), group: ReadStateKeys.positionsPrefix(posted.chat))
            let markerKey = ReadStateKeys.marker(event.actor, posted.chat)
            if var marker = try rows.get(markerKey).map(ReadMarker.init(decoding:)) {
                marker.ownSince += 1
                rows.put(markerKey, marker.encoded())
            }

        case .readMarkerMoved(let moved):
            let markerKey = ReadStateKeys.marker(event.actor, moved.chat)
            guard try rows.contains(markerKey) else { return }
            guard let (sequence, _) = try rows.get(ReadStateKeys.position(moved.chat, moved.message)).map(decodePosition) else {
                try moveToRemovedMessage(moved, by: event.actor, markerKey, rows)
                return
            }
            // The reader's own messages after the new marker: usually few, as markers move
            // to the newest message.
            var own: UInt64 = 0
            let prefix = ReadStateKeys.positionsPrefix(moved.chat)
            try rows.scan(prefix: prefix, from: ReadStateKeys.position(moved.chat, moved.message), grouped: true) { key, value in
                if key != ReadStateKeys.position(moved.chat, moved.message), try decodePosition(value).1 == event.actor {
                    own += 1
                }
                return true
            }
            rows.put(markerKey, ReadMarker(lastRead: moved.message, sequence: sequence, ownSince: own).encoded())

        case .messageDeleted(let deleted):
            // Its place stays (a marker may still be moved to it); it is noted as deleted.
            if let position = try rows.get(ReadStateKeys.position(deleted.chat, deleted.message)) {
                rows.put(ReadStateKeys.deleted(deleted.chat, deleted.message), position)
            }

        case .chatUpdated, .messageEdited, .reactionAdded, .reactionRemoved:
            break
        }
    }

    func position(_ sequence: UInt64, _ author: UserID) -> [UInt8] {
        ReadStateKeys.positionValue(sequence, author)
    }

    func decodePosition(_ bytes: [UInt8]) throws -> (UInt64, UserID) {
        try ReadStateKeys.decodePositionValue(bytes)
    }
}
