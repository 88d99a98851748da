import ChatFlowStorage

/// A reverse scan over one term's postings, holding the current message id.
struct PostingCursor {
    let iterator: KeyValueIterator
    private(set) var head: ULID?

    init(_ iterator: KeyValueIterator) throws {
        self.iterator = iterator
        iterator.seekToLast()
        head = try PostingCursor.read(iterator)
    }

    mutating func advance() throws {
        iterator.previous()
        head = try PostingCursor.read(iterator)
    }

    private static func read(_ iterator: KeyValueIterator) throws -> ULID? {
        guard iterator.isValid else { try iterator.checkError(); return nil }
        // The message id is the key's last 16 bytes.
        return iterator.withKey { key in key.count >= 16 ? ULID(bytes: Array(key[(key.count - 16)...])) : nil }
    }
}
