import ChatFlowStorage

/// Per user per chat: the last message read and how many messages by others came after it,
/// not counting those deleted since (nobody can read them any more).
public struct ReadStateProjection: Projection {
    public static let name = "read_state"
    /// 2: deleted messages are kept apart, so they no longer count as unread.
    /// 3: messages and deleted messages are counted per block of positions and per author,
    /// so that a marker far back is counted without reading every message after it.
    /// 4: posting moves the author's marker to their message, as reading the chat to reply
    /// to it does in every chat client: what others wrote before it is no longer unread.
    public static let version = 4

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
            let blockKey = ReadStateKeys.ownBlock(posted.chat, event.actor, ReadStateKeys.block(of: sequence))
            let inBlock = try rows.counter(blockKey) + 1
            rows.put(blockKey, KeyWriter.build { $0.uint64(inBlock) }, group: ReadStateKeys.ownBlocksPrefix(posted.chat, event.actor))
            let markerKey = ReadStateKeys.marker(event.actor, posted.chat)
            if try rows.contains(markerKey) {
                rows.put(markerKey, ReadMarker(lastRead: MessageID(event.id), sequence: sequence, ownSince: 0).encoded())
            }

        case .readMarkerMoved(let moved):
            let markerKey = ReadStateKeys.marker(event.actor, moved.chat)
            guard try rows.contains(markerKey) else { return }
            guard let (sequence, _) = try rows.get(ReadStateKeys.position(moved.chat, moved.message)).map(decodePosition) else {
                try moveToRemovedMessage(moved, by: event.actor, markerKey, rows)
                return
            }
            let own = try ownMessages(of: event.actor, in: moved.chat, after: sequence, from: ReadStateKeys.position(moved.chat, moved.message), rows)
            rows.put(markerKey, ReadMarker(lastRead: moved.message, sequence: sequence, ownSince: own).encoded())

        case .messageDeleted(let deleted):
            // Its place stays (a marker may still be moved to it); it is noted as deleted.
            guard let (sequence, author) = try rows.get(ReadStateKeys.position(deleted.chat, deleted.message)).map(decodePosition) else { return }
            let key = ReadStateKeys.deleted(deleted.chat, sequence)
            guard try !rows.contains(key) else { return }
            rows.put(key, Array(author.rawValue.utf8))
            let block = ReadStateKeys.block(of: sequence)
            try increment(ReadStateKeys.deletedBlock(deleted.chat, block), rows)
            try increment(ReadStateKeys.authorDeletedBlock(deleted.chat, author, block), rows)

        case .chatUpdated, .messageEdited, .reactionAdded, .reactionRemoved:
            break
        }
    }

    /// How many of the chat's messages after sequence number `after` are `author`'s: the
    /// positions from `start` to the end of its block one by one, then the later blocks'
    /// counts. Retention may have removed positions before `start`, never after it.
    func ownMessages(of author: UserID, in chat: ChatID, after sequence: UInt64, from start: [UInt8], _ rows: ProjectionRows) throws -> UInt64 {
        let block = ReadStateKeys.block(of: sequence)
        let blockEnd = (block + 1) * ReadStateKeys.blockSize
        var own: UInt64 = 0
        try rows.scan(prefix: ReadStateKeys.positionsPrefix(chat), from: start, grouped: true) { _, value in
            let (next, by) = try decodePosition(value)
            guard next < blockEnd else { return false }
            if next > sequence, by == author { own += 1 }
            return true
        }
        let blocks = ReadStateKeys.ownBlocksPrefix(chat, author)
        try rows.scan(prefix: blocks, from: ReadStateKeys.ownBlock(chat, author, block + 1), grouped: true) { _, value in
            own += KeyReader.read(value) { $0.uint64() } ?? 0
            return true
        }
        return own
    }

    private func increment(_ key: [UInt8], _ rows: ProjectionRows) throws {
        rows.setCounter(key, try rows.counter(key) + 1)
    }

    func position(_ sequence: UInt64, _ author: UserID) -> [UInt8] {
        ReadStateKeys.positionValue(sequence, author)
    }

    func decodePosition(_ bytes: [UInt8]) throws -> (UInt64, UserID) {
        try ReadStateKeys.decodePositionValue(bytes)
    }
}
