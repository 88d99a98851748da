import ChatFlowStorage

extension TimelineProjection {
    /// Range deletes: the message → chat rows before the horizon, and in each chat they
    /// name, that chat's messages before the horizon.
    public func prune(_ context: PruneContext) throws {
        let lower = TimelineKeys.messageChat(MessageID(.zero))
        let upper = TimelineKeys.messageChat(MessageID(context.horizon))
        var chats = Set<ChatID>()
        try context.forEach(from: lower, to: upper) { _, value in
            if let chat = ULID(bytes: value) { chats.insert(ChatID(chat)) }
        }
        context.deleteRange(from: lower, to: upper)
        for chat in chats {
            context.deleteRange(from: TimelineKeys.message(chat, MessageID(.zero)), to: TimelineKeys.message(chat, MessageID(context.horizon)))
        }
    }
}
