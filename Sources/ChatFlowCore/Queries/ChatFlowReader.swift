import ChatFlowStorage

/// Everything a client reads, answered from the projections. Read-only by construction:
/// it holds no write path, and the HTTP layer never builds a key itself.
public struct ChatFlowReader: Sendable {
    let database: Database
    let store: ProjectionStore

    public init(store: ProjectionStore) {
        self.database = store.database
        self.store = store
    }

    var chats: ColumnFamily { store.family(of: ChatsProjection.name) }
    var timeline: ColumnFamily { store.family(of: TimelineProjection.name) }
    var userIndex: ColumnFamily { store.family(of: UserIndexProjection.name) }
    var reactionRows: ColumnFamily { store.family(of: ReactionsProjection.name) }
    var searchRows: ColumnFamily { store.family(of: SearchProjection.name) }
    var readState: ColumnFamily { store.family(of: ReadStateProjection.name) }
    var chatEvents: ColumnFamily { store.family(of: ChatEventsProjection.name) }

    // MARK: - Chats and members

    public func chat(_ id: ChatID) throws -> ChatView? {
        try chatRecord(id).map { view(id, $0) }
    }

    func chatRecord(_ id: ChatID) throws -> ChatRecord? {
        try database.get(ChatsKeys.chat(id), in: chats).map(ChatRecord.init(decoding:))
    }

    /// The user's role in the chat, or nil when not a member.
    public func role(of user: UserID, in chat: ChatID) throws -> MemberRole? {
        try database.get(ChatsKeys.member(chat, user), in: chats).map(MemberRecord.init(decoding:)).map(\.role)
    }

    /// When the user's current membership of the chat began (the millisecond of their
    /// joining, or of the chat's creation for its creator), or nil when not a member.
    public func memberSince(_ user: UserID, of chat: ChatID) throws -> UInt64? {
        try database.get(ChatsKeys.member(chat, user), in: chats).map(MemberRecord.init(decoding:)).map(\.joinedAt)
    }

    public func member(_ user: UserID, of chat: ChatID) throws -> MemberView? {
        try database.get(ChatsKeys.member(chat, user), in: chats).map(MemberRecord.init(decoding:)).map { view(chat, user, $0) }
    }

    /// The user's chats, oldest first, each with its unread count and newest message.
    public func chats(of user: UserID, limit: Int = 1000) throws -> [ChatSummaryView] {
        try chats(of: user, after: nil, limit: limit).items
    }

    /// A page of the user's chats, oldest first, from a cursor of the previous page.
    public func chats(of user: UserID, cursor: String?, limit: Int) throws -> Page<ChatSummaryView> {
        var after: ChatID?
        if let cursor {
            guard case .message(let id) = try PageCursor.decode(cursor, kind: .myChats, scope: .zero, allowTime: false).position else {
                throw ChatFlowError.invalid("cursor is damaged")
            }
            after = ChatID(id)
        }
        let (items, last, more) = try chats(of: user, after: after, limit: limit)
        let next = more ? last.map { PageCursor(kind: .myChats, scope: .zero, position: .message($0.ulid)).encoded } : nil
        return Page(items: items, nextCursor: next)
    }

    /// Up to `limit` of the user's chats after `after`, the last one looked at (the next
    /// page's start, even when a chat was left out), and whether more follow.
    private func chats(of user: UserID, after: ChatID?, limit: Int) throws -> (items: [ChatSummaryView], last: ChatID?, more: Bool) {
        let prefix = ChatsKeys.userChatsPrefix(user)
        let lower = after.map { ChatsKeys.userChat(user, $0) + [0] } ?? prefix
        let iterator = database.makeIterator(over: chats, lower: lower, upper: KeyWriter.prefixSuccessor(prefix))
        iterator.seekToFirst()
        var ids: [ChatID] = []
        var more = false
        while iterator.isValid {
            if let chat = ChatsKeys.decodeUserChat(iterator.key) {
                if ids.count == limit { more = true; break }
                ids.append(chat)
            }
            iterator.next()
        }
        try iterator.checkError()
        let items = try ids.compactMap { chat -> ChatSummaryView? in
            guard let record = try chatRecord(chat), let role = try role(of: user, in: chat) else { return nil }
            let base = view(chat, record)
            let read = try readMarker(user, chat)
            return ChatSummaryView(
                id: base.id, name: base.name, description: base.description, isPrivate: base.isPrivate,
                createdBy: base.createdBy, createdAt: base.createdAt, memberCount: base.memberCount,
                role: role.rawValue, unreadCount: read.unread, lastReadMessageId: read.lastRead?.description,
                lastMessage: try newestMessage(in: chat))
        }
        return (items, ids.last, more)
    }

    /// The public chats anyone may join, newest first.
    public func publicChats(cursor: String?, limit: Int) throws -> Page<ChatView> {
        var upper = KeyWriter.prefixSuccessor(ChatsKeys.publicChatsPrefix)!
        if let cursor {
            guard case .message(let after) = try PageCursor.decode(cursor, kind: .publicChats, scope: .zero, allowTime: false).position else {
                throw ChatFlowError.invalid("cursor is damaged")
            }
            upper = ChatsKeys.publicChat(ChatID(after))
        }
        let iterator = database.makeIterator(over: chats, lower: ChatsKeys.publicChatsPrefix, upper: upper)
        iterator.seekToLast()
        var found: [ChatView] = []
        var more = false
        while iterator.isValid {
            if found.count == limit { more = true; break }
            if let id = ChatsKeys.decodePublicChat(iterator.key), let record = try chatRecord(id) {
                found.append(view(id, record))
            }
            iterator.previous()
        }
        try iterator.checkError()
        let next = more ? found.last.flatMap { ULID($0.id) }.map { PageCursor(kind: .publicChats, scope: .zero, position: .message($0)).encoded } : nil
        return Page(items: found, nextCursor: next)
    }

    /// Every member with when they joined (Unix milliseconds), for delivering notifications.
    public func memberJoinTimes(of chat: ChatID) throws -> [UserID: UInt64] {
        let prefix = ChatsKeys.membersPrefix(chat)
        let iterator = database.makeIterator(over: chats, lower: prefix, upper: KeyWriter.prefixSuccessor(prefix))
        iterator.seekToFirst()
        var members: [UserID: UInt64] = [:]
        while iterator.isValid {
            if let user = ChatsKeys.decodeMember(iterator.key) { members[user] = try MemberRecord(decoding: iterator.value).joinedAt }
            iterator.next()
        }
        try iterator.checkError()
        return members
    }

    public func members(of chat: ChatID, cursor: String?, limit: Int) throws -> Page<MemberView> {
        let prefix = ChatsKeys.membersPrefix(chat)
        var lower = prefix
        if let cursor {
            guard case .member(let after) = try PageCursor.decode(cursor, kind: .members, scope: chat.ulid, allowTime: false).position else {
                throw ChatFlowError.invalid("cursor is damaged")
            }
            lower = ChatsKeys.member(chat, after) + [0]
        }
        let iterator = database.makeIterator(over: chats, lower: lower, upper: KeyWriter.prefixSuccessor(prefix))
        iterator.seekToFirst()
        var members: [MemberView] = []
        var more = false
        while iterator.isValid {
            if members.count == limit { more = true; break }
            if let user = ChatsKeys.decodeMember(iterator.key) {
                members.append(view(chat, user, try MemberRecord(decoding: iterator.value)))
            }
            iterator.next()
        }
        try iterator.checkError()
        let next = more ? members.last.map { PageCursor(kind: .members, scope: chat.ulid, position: .member(UserID(unchecked: $0.userId))).encoded } : nil
        return Page(items: members, nextCursor: next)
    }

    // MARK: - Read state

    /// The message the user's read marker in a chat is at; nil when it is at none (or the
    /// user is not a member).
    public func lastRead(_ user: UserID, _ chat: ChatID) throws -> MessageID? {
        try database.get(ReadStateKeys.marker(user, chat), in: readState).map(ReadMarker.init(decoding:))?.lastRead
    }

    /// The user's read marker in a chat and the messages by others after it (deleted ones
    /// not counted). Read at one snapshot: the user's own post, applied between reading the
    /// marker and the chat's count, made it count as unread for a moment.
    public func readMarker(_ user: UserID, _ chat: ChatID) throws -> (lastRead: MessageID?, unread: Int) {
        let snapshot = database.snapshot()
        guard let marker = try snapshot.get(ReadStateKeys.marker(user, chat), in: readState).map(ReadMarker.init(decoding:)) else {
            return (nil, 0)
        }
        let sequence = try snapshot.get(ReadStateKeys.sequence(chat), in: readState).flatMap { KeyReader.read($0) { $0.uint64() } } ?? 0
        let deleted = try deletedByOthers(after: marker.sequence, in: chat, reader: user, at: snapshot)
        let unread = Int64(sequence) - Int64(marker.sequence) - Int64(marker.ownSince) - Int64(deleted)
        return (marker.lastRead, Int(max(0, unread)))
    }

    /// Deleted messages by others after sequence number `after`. Newest first, as they are
    /// usually few; past `deletedReadOneByOne` of them, by the rest of the marker's block
    /// and one count per later block (so a member who deleted thousands of messages does
    /// not make everyone's unread counts read them all).
    private func deletedByOthers(after sequence: UInt64, in chat: ChatID, reader: UserID, at snapshot: DatabaseSnapshot) throws -> UInt64 {
        let prefix = ReadStateKeys.deletedPrefix(chat)
        let upper = KeyWriter.prefixSuccessor(prefix)!
        let newest = snapshot.makeIterator(over: readState, lower: ReadStateKeys.deleted(chat, sequence + 1), upper: upper)
        newest.seekToLast()
        var deleted: UInt64 = 0
        var seen = 0
        while newest.isValid, seen < Self.deletedReadOneByOne {
            seen += 1
            if !newest.value.elementsEqual(reader.rawValue.utf8) { deleted += 1 }
            newest.previous()
        }
        try newest.checkError()
        guard seen == Self.deletedReadOneByOne, newest.isValid else { return deleted }

        let block = ReadStateKeys.block(of: sequence)
        deleted = 0
        let blockEnd = ReadStateKeys.deleted(chat, (block + 1) * ReadStateKeys.blockSize)
        let rest = snapshot.makeIterator(over: readState, lower: ReadStateKeys.deleted(chat, sequence + 1), upper: blockEnd)
        rest.seekToFirst()
        while rest.isValid {
            if !rest.value.elementsEqual(reader.rawValue.utf8) { deleted += 1 }
            rest.next()
        }
        try rest.checkError()
        deleted += try sumOfCounts(ReadStateKeys.deletedBlocksPrefix(chat), from: ReadStateKeys.deletedBlock(chat, block + 1), at: snapshot)
        let own = try sumOfCounts(ReadStateKeys.authorDeletedBlocksPrefix(chat, reader), from: ReadStateKeys.authorDeletedBlock(chat, reader, block + 1), at: snapshot)
        return deleted > own ? deleted - own : 0
    }

    static let deletedReadOneByOne = 64

    /// The sum of the counters under `prefix` from `start` on.
    private func sumOfCounts(_ prefix: [UInt8], from start: [UInt8], at snapshot: DatabaseSnapshot) throws -> UInt64 {
        let iterator = snapshot.makeIterator(over: readState, lower: start, upper: KeyWriter.prefixSuccessor(prefix)!)
        iterator.seekToFirst()
        var sum: UInt64 = 0
        while iterator.isValid {
            sum += KeyReader.read(iterator.value) { $0.uint64() } ?? 0
            iterator.next()
        }
        try iterator.checkError()
        return sum
    }

    // MARK: - Views

    func view(_ id: ChatID, _ record: ChatRecord) -> ChatView {
        ChatView(
            id: id.description, name: record.name, description: record.description, isPrivate: record.isPrivate,
            createdBy: record.createdBy.rawValue, createdAt: RFC3339.format(milliseconds: id.ulid.timestamp),
            memberCount: Int(record.memberCount))
    }

    func view(_ chat: ChatID, _ user: UserID, _ record: MemberRecord) -> MemberView {
        MemberView(chatId: chat.description, userId: user.rawValue, role: record.role.rawValue,
                   joinedAt: RFC3339.format(milliseconds: record.joinedAt))
    }
}
