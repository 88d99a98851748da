import ChatFlowStorage

/// Key layouts of the `search` projection:
/// - `0x01 ‖ chat(16) ‖ term ‖ 0x00 ‖ message(16) → ∅` (postings, newest first by reverse scan)
/// - `0x02 ‖ message(16) → SearchDocument` (what was indexed, so that an edit or delete
///   removes exactly those postings with the same key builder)
enum SearchKeys {
    static func posting(_ chat: ChatID, _ term: String, _ message: MessageID) -> [UInt8] {
        KeyWriter.build(capacity: 40 + term.utf8.count) { $0.byte(0x01); $0.chat(chat); $0.terminatedString(term); $0.message(message) }
    }

    /// All postings of one term in one chat.
    static func termPrefix(_ chat: ChatID, _ term: String) -> [UInt8] {
        KeyWriter.build { $0.byte(0x01); $0.chat(chat); $0.terminatedString(term) }
    }

    /// All postings of every term that starts with `prefix` (no terminator).
    static func termStartPrefix(_ chat: ChatID, _ prefix: String) -> [UInt8] {
        KeyWriter.build { $0.byte(0x01); $0.chat(chat); $0.raw(prefix.utf8) }
    }

    static func decodePosting(_ key: [UInt8]) -> (term: String, message: MessageID)? {
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
