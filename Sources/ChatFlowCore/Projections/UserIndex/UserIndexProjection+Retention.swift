import ChatFlowStorage

extension UserIndexProjection {
    /// Range deletes: the message → author rows before the horizon, and for each author
    /// they name, that author's entries before the horizon.
    public func prune(_ context: PruneContext) throws {
        let lower = UserIndexKeys.author(MessageID(.zero))
        let upper = UserIndexKeys.author(MessageID(context.horizon))
        var authors = Set<String>()
        try context.forEach(from: lower, to: upper) { _, value in
            authors.insert(String(decoding: value, as: UTF8.self))
        }
        context.deleteRange(from: lower, to: upper)
        for author in authors.map(UserID.init(unchecked:)) {
            context.deleteRange(from: UserIndexKeys.entry(author, MessageID(.zero)), to: UserIndexKeys.entry(author, MessageID(context.horizon)))
        }
    }
}
