import ChatFlowStorage

extension ChatFlowReader {
    public enum Direction: String, Sendable {
        /// Newest first, going back in time.
        case older
        /// Oldest first, going forward.
        case newer
    }

    /// Which chat a message is in, or nil if there is no such message.
    public func chat(ofMessage message: MessageID) throws -> ChatID? {
        try database.get(TimelineKeys.messageChat(message), in: timeline).flatMap { ULID(bytes: $0) }.map(ChatID.init)
    }

    public func message(_ message: MessageID) throws -> MessageView? {
        guard let chat = try chat(ofMessage: message),
              let record = try database.get(TimelineKeys.message(chat, message), in: timeline).map(MessageRecord.init(decoding:))
        else { return nil }
        return try view(chat, message, record)
    }

    /// The author and state of a message, for authorization checks.
    public func messageFacts(_ message: MessageID) throws -> (chat: ChatID, author: UserID, deleted: Bool)? {
        guard let chat = try chat(ofMessage: message),
              let record = try database.get(TimelineKeys.message(chat, message), in: timeline).map(MessageRecord.init(decoding:))
        else { return nil }
        return (chat, record.author, record.deleted)
    }

    /// One page of a chat's timeline. `older` pages run newest-first from the cursor (or the
    /// end); `newer` pages run oldest-first from the cursor (or the start).
    public func messages(in chat: ChatID, cursor: String?, limit: Int, direction: Direction) throws -> Page<MessageView> {
        let kind: PageCursor.Kind = direction == .older ? .messagesOlder : .messagesNewer
        let position = try cursor.map { try PageCursor.decode($0, kind: kind, scope: chat.ulid, allowTime: true).position }
        let prefix = TimelineKeys.chatPrefix(chat)
        var lower = prefix
        var upper = KeyWriter.prefixSuccessor(prefix)!
        switch (direction, position) {
        case (.older, .message(let id)?): upper = TimelineKeys.message(chat, MessageID(id))
        case (.older, .time(let ms)?): upper = TimelineKeys.message(chat, MessageID(.first(atMillisecond: ms)))
        case (.newer, .message(let id)?): lower = TimelineKeys.message(chat, MessageID(id)) + [0]
        case (.newer, .time(let ms)?): lower = TimelineKeys.message(chat, MessageID(.first(atMillisecond: ms)))
        default: break
        }
        let iterator = database.makeIterator(over: timeline, lower: lower, upper: upper)
        direction == .older ? iterator.seekToLast() : iterator.seekToFirst()
        var messages: [MessageView] = []
        var more = false
        while iterator.isValid {
            if messages.count == limit { more = true; break }
            if let (_, message) = TimelineKeys.decodeMessage(iterator.key) {
                messages.append(try view(chat, message, MessageRecord(decoding: iterator.value)))
            }
            direction == .older ? iterator.previous() : iterator.next()
        }
        try iterator.checkError()
        let next = more ? messages.last.flatMap { ULID($0.id) }.map { PageCursor(kind: kind, scope: chat.ulid, position: .message($0)).encoded } : nil
        return Page(items: messages, nextCursor: next)
    }

    /// The newest message of a chat, deleted or not.
    public func newestMessage(in chat: ChatID) throws -> MessageView? {
        try messages(in: chat, cursor: nil, limit: 1, direction: .older).items.first
    }

    /// One page of a user's own messages across chats, newest first: those of chats the
    /// user may still read. A private chat the user left or was removed from is not
    /// readable, and its messages would show what happened there since (reactions,
    /// deletions). A page may hold fewer than `limit` with more to come: the scan stops after
    /// `limit * 20 + 1000` entries, and the cursor goes on from there.
    public func messages(by user: UserID, cursor: String?, limit: Int) throws -> Page<MessageView> {
        let prefix = UserIndexKeys.userPrefix(user)
        var upper = KeyWriter.prefixSuccessor(prefix)!
        if let cursor {
            switch try PageCursor.decode(cursor, kind: .userMessages, scope: .zero, allowTime: true).position {
            case .message(let id): upper = UserIndexKeys.entry(user, MessageID(id))
            case .time(let ms): upper = UserIndexKeys.entry(user, MessageID(.first(atMillisecond: ms)))
            case .member: throw ChatFlowError.invalid("cursor is damaged")
            }
        }
        let iterator = database.makeIterator(over: userIndex, lower: prefix, upper: upper)
        iterator.seekToLast()
        var messages: [MessageView] = []
        var readable: [ChatID: Bool] = [:]
        var budget = limit * 20 + 1000
        var last: MessageID?
        var more = false
        while iterator.isValid {
            if messages.count == limit || budget == 0 { more = true; break }
            budget -= 1
            if let message = UserIndexKeys.decodeEntry(iterator.key), let chat = ULID(bytes: iterator.value).map(ChatID.init) {
                last = message
                if readable[chat] == nil {
                    let open = try chatRecord(chat).map { !$0.isPrivate } ?? false
                    readable[chat] = try open || role(of: user, in: chat) != nil
                }
                let mayRead = readable[chat] ?? false
                if mayRead, let record = try database.get(TimelineKeys.message(chat, message), in: timeline).map(MessageRecord.init(decoding:)) {
                    messages.append(try view(chat, message, record))
                }
            }
            iterator.previous()
        }
        try iterator.checkError()
        let next = more ? last.map { PageCursor(kind: .userMessages, scope: .zero, position: .message($0.ulid)).encoded } : nil
        return Page(items: messages, nextCursor: next)
    }

    // MARK: - Reactions

    /// `{emoji: count}` for a message.
    public func reactionCounts(_ message: MessageID) throws -> [String: Int] {
        let prefix = ReactionsKeys.countsPrefix(message)
        let iterator = database.makeIterator(over: reactionRows, lower: prefix, upper: KeyWriter.prefixSuccessor(prefix))
        iterator.seekToFirst()
        var counts: [String: Int] = [:]
        while iterator.isValid {
            if let emoji = ReactionsKeys.decodeCount(iterator.key), let count = KeyReader.read(iterator.value, { $0.uint64() }) {
                counts[emoji] = Int(count)
            }
            iterator.next()
        }
        try iterator.checkError()
        return counts
    }

    /// Per emoji: count, who reacted (in user-id order) and whether `viewer` did; most used first.
    public func reactions(_ message: MessageID, viewer: UserID) throws -> [ReactionSummaryView] {
        let prefix = KeyWriter.build { $0.byte(0x01); $0.message(message) }
        let iterator = database.makeIterator(over: reactionRows, lower: prefix, upper: KeyWriter.prefixSuccessor(prefix))
        iterator.seekToFirst()
        var users: [String: [String]] = [:]
        var order: [String] = []
        while iterator.isValid {
            if let (emoji, user) = ReactionsKeys.decodeReaction(iterator.key) {
                if users[emoji] == nil { order.append(emoji) }
                users[emoji, default: []].append(user.rawValue)
            }
            iterator.next()
        }
        try iterator.checkError()
        return order.map { emoji in
            let who = users[emoji]!
            return ReactionSummaryView(emoji: emoji, count: who.count, users: who, reactedByMe: who.contains(viewer.rawValue))
        }.sorted { ($0.count, $1.emoji) > ($1.count, $0.emoji) }
    }

    public func hasReacted(_ user: UserID, _ message: MessageID, _ emoji: String) throws -> Bool {
        try reactedAt(user, message, emoji) != nil
    }

    /// When the user reacted with `emoji` (Unix ms), or nil if they have not.
    public func reactedAt(_ user: UserID, _ message: MessageID, _ emoji: String) throws -> UInt64? {
        try database.get(ReactionsKeys.reaction(message, emoji, user), in: reactionRows).flatMap { KeyReader.read($0) { $0.uint64() } }
    }

    func view(_ chat: ChatID, _ message: MessageID, _ record: MessageRecord) throws -> MessageView {
        // A deleted message shows nothing of what it was, not even that it was edited.
        MessageView(
            id: message.description, chatId: chat.description, userId: record.author.rawValue,
            content: record.content, messageType: record.type.rawValue,
            createdAt: RFC3339.format(milliseconds: message.ulid.timestamp),
            editedAt: record.deleted ? nil : record.editedAt.map { RFC3339.format(milliseconds: $0) }, deleted: record.deleted,
            reactions: record.deleted ? [:] : try reactionCounts(message))
    }
}
