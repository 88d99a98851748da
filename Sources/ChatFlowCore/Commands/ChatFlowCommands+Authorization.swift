/// Who may read and write what: the checks every command makes before it appends.
extension ChatFlowCommands {
    /// The chat, if the user may read it, and the user's role in it.
    public func readable(_ chat: ChatID, by user: UserID) throws -> (ChatView, MemberRole?) {
        guard let view = try reader.chat(chat) else { throw ChatFlowError.notFound("chat \(chat) not found") }
        let role = try reader.role(of: user, in: chat)
        if view.isPrivate && role == nil { throw ChatFlowError.notFound("chat \(chat) not found") }
        return (view, role)
    }

    /// The user's role; not found for a private chat they are not in, forbidden for a public one.
    @discardableResult
    public func requireMember(_ chat: ChatID, _ user: UserID) throws -> MemberRole {
        let (_, role) = try readable(chat, by: user)
        guard let role else { throw Self.notAMember(chat) }
        return role
    }

    static func notAMember(_ chat: ChatID) -> ChatFlowError {
        .forbidden("join chat \(chat) first: only members can do this")
    }

    /// The message's facts, if the user may read its chat.
    public func visibleMessage(_ message: MessageID, by user: UserID) throws -> (chat: ChatID, author: UserID, deleted: Bool) {
        guard let facts = try reader.messageFacts(message) else { throw ChatFlowError.notFound("message \(message) not found") }
        do {
            _ = try readable(facts.chat, by: user)
        } catch ChatFlowError.notFound {
            throw ChatFlowError.notFound("message \(message) not found")
        }
        return facts
    }

    /// Runs `body` holding the lock of `message`'s chat (a message never moves), once the
    /// user may see the message at all; sharing it, also the user's place in the chat (the
    /// commands taking it change what is the user's own there).
    func withLock<R>(on message: MessageID, by user: UserID, _ mode: ChatLocks.Mode, _ body: () async throws -> R) async throws -> R {
        let chat = try visibleMessage(message, by: user).chat
        return try await locks.withLock(chat, mode, by: user, body)
    }
}
