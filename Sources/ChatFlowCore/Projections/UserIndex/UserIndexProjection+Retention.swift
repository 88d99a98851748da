import ChatFlowStorage

extension UserIndexProjection {
    /// Range deletes: the message → author rows before the horizon; for each author they
    /// name, that author's entries before the horizon; and for each chat and author, the
    /// author's entries in that chat before it.
    public func prune(_ context: PruneContext) throws {
        let horizon = MessageID(context.horizon)
        let (lower, upper) = (UserIndexKeys.author(MessageID(.zero)), UserIndexKeys.author(horizon))
        struct ChatAuthor: Hashable {
            let chat: ChatID
            let user: UserID
        }
        var authors = Set<UserID>()
        var chatAuthors = Set<ChatAuthor>()
        try context.forEach(from: lower, to: upper) { _, value in
            guard let (chat, user) = UserIndexKeys.decodeAuthorValue(value) else { return }
            authors.insert(user)
            chatAuthors.insert(ChatAuthor(chat: chat, user: user))
        }
        context.deleteRange(from: lower, to: upper)
        for user in authors {
            context.deleteRange(from: UserIndexKeys.entry(user, MessageID(.zero)), to: UserIndexKeys.entry(user, horizon))
        }
        for author in chatAuthors {
            context.deleteRange(
                from: UserIndexKeys.chatEntry(author.chat, author.user, MessageID(.zero)),
                to: UserIndexKeys.chatEntry(author.chat, author.user, horizon))
        }
    }
}
