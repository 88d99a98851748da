import ChatFlowStorage

/// Key layouts of the `search` projection:
/// - `0x01 ‖ chat(16) ‖ term ‖ 0x00 ‖ run(16) → PostingBlock` (a term's postings in runs,
///   each under its last id, the open run under `ULID.max`; newest first by reverse scan)
/// - `0x02 ‖ message(16) → SearchDocument` (what was indexed, so that an edit or delete
///   removes exactly those postings)
enum SearchKeys {
    /// The row of the run of `term`'s postings in `chat` that ends at `run`.
    static func block(_ chat: ChatID, _ term: String, _ run: ULID) -> [UInt8] {
        block(termPrefix(chat, term), run)
    }

    static func block(_ termPrefix: [UInt8], _ run: ULID) -> [UInt8] {
        var key = termPrefix
        run.append(to: &key)
        return key
    }

    /// All runs of one term's postings in one chat.
    static func termPrefix(_ chat: ChatID, _ term: String) -> [UInt8] {
        KeyWriter.build { $0.byte(0x01); $0.chat(chat); $0.terminatedString(term) }
    }

    /// All postings of every term that starts with `prefix` (no terminator).
    static func termStartPrefix(_ chat: ChatID, _ prefix: String) -> [UInt8] {
        KeyWriter.build { $0.byte(0x01); $0.chat(chat); $0.raw(prefix.utf8) }
    }

    static func decodeBlock(_ key: [UInt8]) -> (term: String, run: MessageID)? {
        KeyReader.read(key) { reader in
            guard reader.byte() == 0x01, reader.chat() != nil, let term = reader.terminatedString(),
                  let message = reader.message(), reader.isAtEnd else { return nil }
            return (term, message)
        }
    }

    static func document(_ message: MessageID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x02); $0.message(message) }
    }
}
