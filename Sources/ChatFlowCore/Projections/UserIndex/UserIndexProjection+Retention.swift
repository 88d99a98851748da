import ChatFlowStorage

extension UserIndexProjection {
    /// Range deletes: the message → author rows before the horizon, and for each author
    /// they name, that author's entries before the horizon.
    public func prune(_ context: PruneContext) throws {
        let horizon = MessageID(context.horizon)
        try context.removeOwned(
            index: UserIndexKeys.author(MessageID(.zero)), UserIndexKeys.author(horizon),
            owner: { UserID(unchecked: String(decoding: $0, as: UTF8.self)) },
            ownRows: { (UserIndexKeys.entry($0, MessageID(.zero)), UserIndexKeys.entry($0, horizon)) })
    }
}
