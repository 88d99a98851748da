import ChatFlowStorage

extension UserIndexProjection {
    /// Range deletes: the message → author rows before the horizon, and for each author
    /// they name, that author's entries before the horizon, across chats and in the chat.
    public func prune(_ context: PruneContext) throws {
        let horizon = MessageID(context.horizon)
        let (lower, upper) = (UserIndexKeys.author(MessageID(.zero)), UserIndexKeys.author(horizon))
        struct Author: Hashable {
            let chat: ChatID
            let user: UserID
        }
        try context.removeOwned(
            index: lower, upper,
            owner: { UserIndexKeys.decodeAuthorValue($0).map { Author(chat: $0.chat, user: $0.user) } },
            ownRows: { [UserIndexKeys.entry($0.user, MessageID(.zero)), UserIndexKeys.entry($0.user, horizon),
                        UserIndexKeys.chatEntry($0.chat, $0.user, MessageID(.zero)), UserIndexKeys.chatEntry($0.chat, $0.user, horizon)] })
    }
}
