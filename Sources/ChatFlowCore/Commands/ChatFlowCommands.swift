import ChatFlowStorage

/// Every write a client can make: validate, check who may do it against the projections,
/// append the events, and return once they are durable and every projection has applied
/// them — so a read after the response sees the write. From the checks to that point a
/// command holds its chat's lock (`ChatLocks`), so what it checked still holds when its
/// events are committed.
///
/// Authorization rules: a private chat the caller is not in does not exist for them (not
/// found), and neither do its messages; a public chat can be read by anyone signed in but
/// written only by members (forbidden otherwise).
public struct ChatFlowCommands: Sendable {
    let log: RocksDBChangeLog
    let projector: Projector
    let locks: ChatLocks
    public let reader: ChatFlowReader

    public init(engine: ChatFlowEngine) {
        log = engine.log
        projector = engine.projector
        locks = engine.chatLocks
        reader = engine.reader
    }

    // MARK: - Chats and members

    /// Creates a chat. With an idempotency key, a retry within 24 hours returns the chat the
    /// first attempt created instead of creating another.
    public func createChat(by user: UserID, name: String, description: String?, isPrivate: Bool, idempotencyKey: String? = nil) async throws -> (chat: ChatView, replayed: Bool) {
        let name = try Validation.chatName(name)
        let description = try Validation.chatDescription(description ?? "")
        let key = try idempotencyKey.map {
            try Self.clientKey($0, field: "Idempotency-Key", user: user, scope: .chats, request: [name, description, isPrivate ? "private" : "public"])
        }
        let result = try await append(user, .chatCreated(.init(name: name, description: description, isPrivate: isPrivate)), key: key)
        guard !result.isReusedKey else {
            throw ChatFlowError.conflict("Idempotency-Key \(idempotencyKey ?? "") was already used for a different request; send a new key for a new chat")
        }
        let id = ChatID(result.ids[0])
        if result.isReplay, (try? readable(id, by: user)) == nil {
            // A creator who has left the (private) chat since hears of it as the first answer
            // showed it (the request matched that one's), not as its members have made it.
            let created = ChatView(
                id: id.description, name: name, description: description, isPrivate: isPrivate,
                createdBy: user.rawValue, createdAt: RFC3339.format(milliseconds: result.ids[0].timestamp), memberCount: 1)
            return (created, true)
        }
        let chat = try reader.chat(id).orThrow(.unavailable("the new chat could not be read back"))
        return (chat, result.isReplay)
    }

    /// The owner renames a chat, changes its description, or makes it private or public.
    /// Only what differs is changed; a request that changes nothing appends nothing.
    public func updateChat(_ chat: ChatID, by user: UserID, name: String?, description: String?, isPrivate: Bool?, idempotencyKey: String? = nil) async throws -> (chat: ChatView, replayed: Bool) {
        guard name != nil || description != nil || isPrivate != nil else {
            throw ChatFlowError.invalid("give at least one of name, description and isPrivate")
        }
        let name = try name.map(Validation.chatName)
        let description = try description.map(Validation.chatDescription)
        let key = try writeKey(idempotencyKey, user, ["update", chat.description, name ?? "\u{1}", description ?? "\u{1}", isPrivate.map { "\($0)" } ?? "\u{1}"])
        if try await retried(key) != nil { return (try readable(chat, by: user).0, true) }
        func change() throws -> (current: ChatView, update: ChangeEvent.ChatUpdated?) {
            let (current, role) = try readable(chat, by: user)
            guard role != nil else { throw Self.notAMember(chat) }
            guard role == .owner else { throw ChatFlowError.forbidden("only the chat's owner can change it") }
            let update = ChangeEvent.ChatUpdated(
                chat: chat,
                name: name.flatMap { $0 == current.name ? nil : $0 },
                description: description.flatMap { $0 == current.description ? nil : $0 },
                isPrivate: isPrivate.flatMap { $0 == current.isPrivate ? nil : $0 })
            let changes = update.name != nil || update.description != nil || update.isPrivate != nil
            return (current, changes ? update : nil)
        }
        // A request that changes nothing is answered without holding the chat's writers back.
        let unchanged = try change()
        guard unchanged.update != nil else {
            return (unchanged.current, try await remember(key))
        }
        var replayed = false
        let updated = try await locks.withLock(chat, .exclusive) {
            if try await retried(key) != nil {
                replayed = true
                return try readable(chat, by: user).0
            }
            let (current, update) = try change()
            guard let update else {
                replayed = try await remember(key)
                return current
            }
            replayed = try await write(user, .chatUpdated(update), key: key)
            return try reader.chat(chat).orThrow(.unavailable("the chat could not be read back"))
        }
        return (updated, replayed)
    }

    /// Joins a public chat; joining one already joined returns the membership unchanged.
    public func join(_ chat: ChatID, by user: UserID, idempotencyKey: String? = nil) async throws -> (member: MemberView, replayed: Bool) {
        let key = try writeKey(idempotencyKey, user, ["join", chat.description])
        if let original = try await retried(key) { return (try membership(user, of: chat, from: original, by: user), true) }
        // Joining again changes nothing, and need not hold the chat's writers back.
        if try reader.role(of: user, in: chat) != nil, let member = try reader.member(user, of: chat) {
            return (member, try await remember(key))
        }
        var replayed = false
        let member = try await locks.withLock(chat, .exclusive) {
            if let original = try await retried(key) {
                replayed = true
                return try membership(user, of: chat, from: original, by: user)
            }
            let (view, role) = try readable(chat, by: user)
            if role != nil {
                replayed = try await remember(key)
                return try reader.member(user, of: chat).orThrow(.unavailable("the membership could not be read back"))
            }
            guard !view.isPrivate else { throw ChatFlowError.notFound("chat \(chat) not found") }
            // The first to join a chat everyone has left becomes its owner; the event says so
            // for live clients.
            replayed = try await write(user, .memberJoined(.init(chat: chat, user: user, role: view.memberCount == 0 ? .owner : .member)), key: key)
            return try reader.member(user, of: chat).orThrow(.unavailable("the membership could not be read back"))
        }
        return (member, replayed)
    }

    /// A member adds someone; the only way into a private chat. Adding a member again is a no-op.
    public func add(_ target: UserID, to chat: ChatID, by user: UserID, idempotencyKey: String? = nil) async throws -> (member: MemberView, replayed: Bool) {
        let key = try writeKey(idempotencyKey, user, ["add", chat.description, target.rawValue])
        if let original = try await retried(key) { return (try membership(target, of: chat, from: original, by: user), true) }
        if try reader.role(of: user, in: chat) != nil, let existing = try reader.member(target, of: chat) {
            return (existing, try await remember(key))
        }
        var replayed = false
        let member = try await locks.withLock(chat, .exclusive) {
            if let original = try await retried(key) {
                replayed = true
                return try membership(target, of: chat, from: original, by: user)
            }
            try requireMember(chat, user)
            if let existing = try reader.member(target, of: chat) {
                replayed = try await remember(key)
                return existing
            }
            replayed = try await write(user, .memberJoined(.init(chat: chat, user: target, role: .member)), key: key)
            return try reader.member(target, of: chat).orThrow(.unavailable("the membership could not be read back"))
        }
        return (member, replayed)
    }

    /// A member leaves (target == user), or the owner removes someone. An owner who leaves
    /// hands the chat to the member who has been in it longest.
    /// Returns whether it was a retry answered from the first request (`Idempotency-Key`).
    @discardableResult
    public func remove(_ target: UserID, from chat: ChatID, by user: UserID, idempotencyKey: String? = nil) async throws -> Bool {
        let key = try writeKey(idempotencyKey, user, ["remove", chat.description, target.rawValue])
        if try await retried(key) != nil { return true }
        return try await locks.withLock(chat, .exclusive) {
            if try await retried(key) != nil { return true }
            guard let role = try readable(chat, by: user).1 else {
                // Leaving a chat one is not in removes a membership that is not there: not
                // found, as removing someone who is not a member is (not "join first").
                if target == user { throw ChatFlowError.notFound("\(user) is not a member of chat \(chat)") }
                throw Self.notAMember(chat)
            }
            // Who may remove comes first: a member who may not is told so whoever they name.
            if target != user {
                guard role == .owner else { throw ChatFlowError.forbidden("only the chat's owner can remove other members") }
            }
            guard try reader.role(of: target, in: chat) != nil else {
                throw ChatFlowError.notFound("\(target) is not a member of chat \(chat)")
            }
            return try await write(user, .memberLeft(.init(chat: chat, user: target)), key: key)
        }
    }

    // MARK: - Messages

    /// Posts a message. With a client message id, a retry within 24 hours returns the
    /// message the first attempt created instead of posting it twice.
    /// `keyName`: where the client gave `clientMessageID`, for an error about it.
    public func post(
        to chat: ChatID, by user: UserID, content: String, type: MessageType, clientMessageID: String?, keyName: String = "clientMessageId"
    ) async throws -> (message: MessageView, replayed: Bool) {
        let content = try Validation.content(content)
        let key = try clientMessageID.map {
            try Self.clientKey($0, field: keyName, user: user, scope: .posts, request: [chat.description, type.rawValue, content])
        }
        do {
            try requireMember(chat, user)
        } catch {
            // A retry answers as the first attempt did, also once the author has left or been
            // removed: the message was posted, and the client only missed the answer. (A
            // member's retry is told by the log's writer, with no read here.)
            if let key, let replay = try await replayedPost(key, to: chat, by: user, content: content, type: type, clientMessageID: clientMessageID) {
                return (replay, true)
            }
            throw error
        }
        let result = try await locks.withLock(chat, .shared) {
            // Checked again under the lock: a removal may have been applied meanwhile.
            try requireMember(chat, user)
            return try await append(user, .messagePosted(.init(chat: chat, content: content, type: type, clientMessageID: clientMessageID)), key: key)
        }
        guard !result.isReusedKey else { throw Self.reusedPostKey(clientMessageID) }
        return (try readBack(MessageID(result.ids[0]), postedTo: chat, clientMessageID: clientMessageID), result.isReplay)
    }

    private static func reusedPostKey(_ clientMessageID: String?) -> ChatFlowError {
        .conflict("the key \(clientMessageID ?? "") (clientMessageId or Idempotency-Key) was already used for a different message or request; send a new key for a new message")
    }

    /// The message a post with `key` created, if one did: as it is now when `user` may still
    /// read the chat, else as the first answer showed it (not others' reactions or a
    /// deletion since). A key the user sent before with another request is a 409 here too:
    /// it says more about what went wrong than the refusal of a post by a non-member.
    private func replayedPost(
        _ key: IdempotencyKey, to chat: ChatID, by user: UserID, content: String, type: MessageType, clientMessageID: String?
    ) async throws -> MessageView? {
        guard let original = try log.rememberedResult(for: key) else { return nil }
        guard !original.isReusedKey else { throw Self.reusedPostKey(clientMessageID) }
        guard let id = original.ids.first else { return nil }
        try await projector.waitUntilApplied(id, cancellable: false)
        guard (try? readable(chat, by: user)) != nil else {
            return MessageView(
                id: id.description, chatId: chat.description, userId: user.rawValue, content: content, messageType: type.rawValue,
                createdAt: RFC3339.format(milliseconds: id.timestamp), editedAt: nil, deleted: false, reactions: [:])
        }
        return try readBack(MessageID(id), postedTo: chat, clientMessageID: clientMessageID)
    }

    private func readBack(_ message: MessageID, postedTo chat: ChatID, clientMessageID: String?) throws -> MessageView {
        guard let view = try reader.message(message) else {
            throw ChatFlowError.unavailable("the message could not be read back")
        }
        // A record from before fingerprints cannot tell a reuse; this catches the worst case.
        guard view.chatId == chat.description else {
            throw ChatFlowError.conflict("clientMessageId \(clientMessageID ?? "") was already used for a message in another chat")
        }
        return view
    }

    public func edit(_ message: MessageID, by user: UserID, content: String, idempotencyKey: String? = nil) async throws -> (message: MessageView, replayed: Bool) {
        let key = try writeKey(idempotencyKey, user, ["edit", message.description, Validation.content(content)])
        func retryAnswer() throws -> MessageView {
            _ = try visibleMessage(message, by: user)
            return try reader.message(message).orThrow(.notFound("message \(message) not found"))
        }
        if try await retried(key) != nil { return (try retryAnswer(), true) }
        var replayed = false
        let edited = try await withLock(on: message, by: user, .shared) {
            if try await retried(key) != nil {
                replayed = true
                return try retryAnswer()
            }
            let facts = try visibleMessage(message, by: user)
            try requireMember(facts.chat, user)
            // Who may edit comes first: whether it can still be edited is the author's business.
            guard facts.author == user else { throw ChatFlowError.forbidden("only the author can edit a message") }
            guard !facts.deleted else { throw ChatFlowError.conflict("message \(message) was deleted and can no longer be edited") }
            let content = try Validation.content(content)
            let current = try reader.message(message).orThrow(.unavailable("the message could not be read"))
            // The same text again (a retried request) changes nothing, as with a chat's settings.
            if current.content == content {
                replayed = try await remember(key)
                return current
            }
            replayed = try await write(user, .messageEdited(.init(chat: facts.chat, message: message, content: content)), key: key)
            return try reader.message(message).orThrow(.unavailable("the message could not be read back"))
        }
        return (edited, replayed)
    }

    /// Deletes a message (the author while still a member, or the chat's owner). Deleting it
    /// again is a no-op.
    /// Returns whether it was a retry answered from the first request (`Idempotency-Key`).
    @discardableResult
    public func delete(_ message: MessageID, by user: UserID, idempotencyKey: String? = nil) async throws -> Bool {
        let key = try writeKey(idempotencyKey, user, ["delete", message.description])
        if try await retried(key) != nil { return true }
        // Deleting again changes nothing, and need not hold the chat's writers back.
        if let facts = try reader.messageFacts(message), facts.deleted,
           case let role? = try reader.role(of: user, in: facts.chat), facts.author == user || role == .owner {
            return try await remember(key)
        }
        return try await withLock(on: message, by: user, .exclusive) {
            if try await retried(key) != nil { return true }
            let facts = try visibleMessage(message, by: user)
            try requireMember(facts.chat, user)
            if facts.author != user {
                guard try reader.role(of: user, in: facts.chat) == .owner else {
                    throw ChatFlowError.forbidden("only the author or the chat's owner can delete a message")
                }
            }
            if facts.deleted { return try await remember(key) }
            return try await write(user, .messageDeleted(.init(chat: facts.chat, message: message)), key: key)
        }
    }

    // MARK: - Reactions and read state

    /// Most different emoji one message can carry.
    public static let maxReactionKinds = 50

    /// Adds a reaction; adding one already there returns it unchanged.
    public func react(to message: MessageID, with emoji: String, by user: UserID, idempotencyKey: String? = nil) async throws -> (reaction: ReactionView, replayed: Bool) {
        let emoji = try Validation.emoji(emoji)
        let key = try writeKey(idempotencyKey, user, ["react", message.description, emoji])
        func reaction(at milliseconds: UInt64) -> ReactionView {
            ReactionView(messageId: message.description, userId: user.rawValue, emoji: emoji, createdAt: RFC3339.format(milliseconds: milliseconds))
        }
        /// The reaction as a retry answers it; a first request that found it already there
        /// logged no event (`original` is empty): then, once taken back since, as of now.
        func retryAnswer(_ original: [ULID]) throws -> ReactionView {
            _ = try visibleMessage(message, by: user)
            return reaction(at: try reader.reactedAt(user, message, emoji) ?? original.first?.timestamp ?? ULIDGenerator.wallClockMilliseconds())
        }
        if let original = try await retried(key) { return (try retryAnswer(original), true) }
        // One more of a kind already there shares the chat's lock; a new kind takes it alone,
        // so that two new kinds cannot both take the last place.
        var replayed = false
        for mode in [ChatLocks.Mode.shared, .exclusive] {
            let view = try await withLock(on: message, by: user, mode) { () -> ReactionView? in
                if let original = try await retried(key) {
                    replayed = true
                    return try retryAnswer(original)
                }
                let facts = try visibleMessage(message, by: user)
                try requireMember(facts.chat, user)
                guard !facts.deleted else { throw ChatFlowError.conflict("message \(message) was deleted") }
                let at: UInt64
                if let existing = try reader.reactedAt(user, message, emoji) {
                    replayed = try await remember(key)
                    at = existing
                } else {
                    // Every page of history carries each message's reactions: their kinds are bounded.
                    let counts = try reader.reactionCounts(message)
                    if counts[emoji] == nil && mode == .shared { return nil }
                    guard counts[emoji] != nil || counts.count < Self.maxReactionKinds else {
                        throw ChatFlowError.conflict("message \(message) already has \(Self.maxReactionKinds) different reactions; add one of those instead")
                    }
                    let result = try await append(user, .reactionAdded(.init(chat: facts.chat, message: message, emoji: emoji)), key: key)
                    if result.isReusedKey, let key { throw Self.reusedKey(key) }
                    // A replay may come back here too (sharing the lock, the first request
                    // committed the key after this one looked), and one of a reaction that
                    // was already there has no event.
                    if result.isReplay {
                        replayed = true
                        return try retryAnswer(result.ids)
                    }
                    at = try reader.reactedAt(user, message, emoji) ?? result.ids[0].timestamp
                }
                return reaction(at: at)
            }
            if let view { return (view, replayed) }
        }
        throw ChatFlowError.unavailable("the reaction could not be added")
    }

    /// Removes the caller's reaction; removing one that is not there is a no-op.
    /// Returns whether it was a retry answered from the first request (`Idempotency-Key`).
    @discardableResult
    public func unreact(to message: MessageID, with emoji: String, by user: UserID, idempotencyKey: String? = nil) async throws -> Bool {
        let emoji = try reactionToRemove(emoji, on: message, by: user)
        let key = try writeKey(idempotencyKey, user, ["unreact", message.description, emoji])
        if try await retried(key) != nil { return true }
        return try await withLock(on: message, by: user, .shared) {
            if try await retried(key) != nil { return true }
            let facts = try visibleMessage(message, by: user)
            try requireMember(facts.chat, user)
            // A deleted message shows no reactions: there is none to take back.
            guard !facts.deleted, try reader.reactedAt(user, message, emoji) != nil else { return try await remember(key) }
            return try await write(user, .reactionRemoved(.init(chat: facts.chat, message: message, emoji: emoji)), key: key)
        }
    }

    /// The reaction `text` names, checked like a new one (the text goes into a key: a NUL in
    /// it stopped the server). Text the rules refuse now but once took (a flag no region
    /// has) names the user's reaction as it is stored, if they have one: they can still
    /// take it back.
    private func reactionToRemove(_ text: String, on message: MessageID, by user: UserID) throws -> String {
        do {
            return try Validation.emoji(text)
        } catch {
            guard text.count == 1, Validation.reaction(text) == text, !text.utf8.contains(0),
                  try reader.reactedAt(user, message, text) != nil else { throw error }
            return text
        }
    }

    /// Returns whether it was a retry answered from the first request (`Idempotency-Key`).
    @discardableResult
    public func markRead(_ chat: ChatID, upTo message: MessageID, by user: UserID, idempotencyKey: String? = nil) async throws -> Bool {
        let key = try writeKey(idempotencyKey, user, ["read", chat.description, message.description])
        if try await retried(key) != nil { return true }
        return try await locks.withLock(chat, .shared, by: user) {
            if try await retried(key) != nil { return true }
            try requireMember(chat, user)
            guard try reader.chat(ofMessage: message) == chat else {
                throw ChatFlowError.notFound("message \(message) not found in chat \(chat)")
            }
            // Already there: nothing to log, nor to tell the reader's other devices again.
            if try reader.lastRead(user, chat) == message { return try await remember(key) }
            return try await write(user, .readMarkerMoved(.init(chat: chat, message: message)), key: key)
        }
    }
}
