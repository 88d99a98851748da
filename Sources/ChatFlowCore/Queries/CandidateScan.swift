import ChatFlowStorage

/// Newest-first candidates for a search, from whichever index drives it.
enum CandidateScan {
    case postings([PostingCursor])
    case authored(KeyValueIterator, ChatID)
    case timeline(KeyValueIterator)

    mutating func next() throws -> MessageID? {
        switch self {
        case .postings(var cursors):
            // The newest head among the cursors; equal heads (a message under two terms of
            // the same prefix) are consumed together so it is returned once.
            guard let newest = cursors.compactMap(\.head).max() else { return nil }
            for index in cursors.indices where cursors[index].head == newest {
                try cursors[index].advance()
            }
            self = .postings(cursors)
            return MessageID(newest)
        case .authored(let iterator, let chat):
            while iterator.isValid {
                defer { iterator.previous() }
                if let message = UserIndexKeys.decodeEntry(iterator.key), ULID(bytes: iterator.value) == chat.ulid {
                    return message
                }
            }
            try iterator.checkError()
            return nil
        case .timeline(let iterator):
            guard iterator.isValid else { try iterator.checkError(); return nil }
            defer { iterator.previous() }
            return TimelineKeys.decodeMessage(iterator.key)?.1
        }
    }
}
