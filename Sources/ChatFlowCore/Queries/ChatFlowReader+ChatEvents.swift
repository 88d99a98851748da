import ChatFlowStorage

extension ChatFlowReader {
    /// The ids of `chat`'s events after `start` and at most `end`, oldest first, at most
    /// `limit` of them (the `chat_events` projection: see there which kinds it lists).
    public func chatEventIDs(of chat: ChatID, after start: ULID, upTo end: ULID, limit: Int) throws -> [ULID] {
        guard start < end, let lower = start.successor else { return [] }
        let upper = end.successor.map { ChatEventsKeys.event(chat, $0) } ?? KeyWriter.prefixSuccessor(ChatEventsKeys.chatPrefix(chat))
        let iterator = database.makeIterator(over: chatEvents, lower: ChatEventsKeys.event(chat, lower), upper: upper)
        iterator.seekToFirst()
        var ids: [ULID] = []
        while iterator.isValid && ids.count < limit {
            guard let (_, id) = ChatEventsKeys.decodeEvent(iterator.key) else {
                throw StorageError.malformed("chat_events key of \(iterator.key.count) bytes")
            }
            ids.append(id)
            iterator.next()
        }
        try iterator.checkError()
        return ids
    }
}
