import ChatFlowStorage

extension ChatEventsProjection {
    /// In each chat with events before the horizon, one range delete of them. The chats are found
    /// by seeking from one chat's rows to the next, so no second index is kept for this.
    public func prune(_ context: PruneContext) throws {
        var lower = ChatEventsKeys.allChats
        let upper = KeyWriter.prefixSuccessor(ChatEventsKeys.allChats)!
        while let (key, _) = try context.first(from: lower, to: upper) {
            guard let (chat, first) = ChatEventsKeys.decodeEvent(key) else {
                throw StorageError.malformed("chat_events key of \(key.count) bytes")
            }
            // A chat whose first event is past the horizon has nothing to remove.
            if first < context.horizon {
                context.deleteRange(from: ChatEventsKeys.event(chat, .zero), to: ChatEventsKeys.event(chat, context.horizon))
            }
            guard let next = KeyWriter.prefixSuccessor(ChatEventsKeys.chatPrefix(chat)) else { break }
            lower = next
        }
    }
}
