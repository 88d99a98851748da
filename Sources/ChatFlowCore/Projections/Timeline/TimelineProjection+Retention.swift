import ChatFlowStorage

extension TimelineProjection {
    /// Range deletes: the message → chat rows before the horizon, and in each chat they
    /// name, that chat's messages before the horizon.
    public func prune(_ context: PruneContext) throws {
        let horizon = MessageID(context.horizon)
        try context.removeOwned(
            index: TimelineKeys.messageChat(MessageID(.zero)), TimelineKeys.messageChat(horizon),
            owner: { ULID(bytes: $0).map(ChatID.init) },
            ownRows: { (TimelineKeys.message($0, MessageID(.zero)), TimelineKeys.message($0, horizon)) })
    }
}
