import ChatFlowStorage

/// Key layouts of the `read_state` projection:
/// - `0x01 ‖ chat(16) → sequence(8)` (messages posted in the chat so far)
/// - `0x02 ‖ chat(16) ‖ message(16) → sequence(8) ‖ author` (each message's place in its chat)
/// - `0x03 ‖ user ‖ 0x00 ‖ chat(16) → ReadMarker` (per member of the chat)
/// - `0x04 → horizon(16)` (retention removed the positions of messages before it)
/// - `0x05 ‖ chat(16) ‖ sequence(8) → author` (deleted messages, by their place)
/// - `0x06 ‖ chat(16) ‖ author ‖ 0x00 ‖ block(8) → count(8)` (the author's messages among
///   sequence numbers `block × blockSize ..< (block + 1) × blockSize`)
/// - `0x07 ‖ chat(16) ‖ block(8) → count(8)` (deleted messages of the block)
/// - `0x08 ‖ chat(16) ‖ author ‖ 0x00 ‖ block(8) → count(8)` (the author's deleted messages
///   of the block)
///
/// unread = sequence(chat) − marker.sequence − marker.ownSince − the deleted messages by
/// others after the marker: messages after the marker minus the reader's own and those
/// deleted since. Every message posted or deleted costs O(1) writes, whatever the chat's
/// size. Counting after a marker, however far back it is, reads at most the rest of the
/// marker's block one by one, then one count per later block: the reader's own messages
/// when it moves, the deleted ones when unread is asked for (newest first, and usually
/// only a few, so most reads stop before the blocks).
enum ReadStateKeys {
    static func sequence(_ chat: ChatID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x01); $0.chat(chat) }
    }

    static func position(_ chat: ChatID, _ message: MessageID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x02); $0.chat(chat); $0.message(message) }
    }

    static func positionsPrefix(_ chat: ChatID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x02); $0.chat(chat) }
    }

    static func deleted(_ chat: ChatID, _ sequence: UInt64) -> [UInt8] {
        KeyWriter.build { $0.byte(0x05); $0.chat(chat); $0.uint64(sequence) }
    }

    static func deletedPrefix(_ chat: ChatID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x05); $0.chat(chat) }
    }

    /// Sequence numbers per block of counts: counting after a marker reads up to this many
    /// rows to finish its own block, then one count per later block.
    static let blockSize: UInt64 = 512

    static func block(of sequence: UInt64) -> UInt64 {
        sequence / blockSize
    }

    static func ownBlock(_ chat: ChatID, _ author: UserID, _ block: UInt64) -> [UInt8] {
        KeyWriter.build { $0.byte(0x06); $0.chat(chat); $0.user(author); $0.uint64(block) }
    }

    static func ownBlocksPrefix(_ chat: ChatID, _ author: UserID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x06); $0.chat(chat); $0.user(author) }
    }

    static func deletedBlock(_ chat: ChatID, _ block: UInt64) -> [UInt8] {
        KeyWriter.build { $0.byte(0x07); $0.chat(chat); $0.uint64(block) }
    }

    static func deletedBlocksPrefix(_ chat: ChatID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x07); $0.chat(chat) }
    }

    static func authorDeletedBlock(_ chat: ChatID, _ author: UserID, _ block: UInt64) -> [UInt8] {
        KeyWriter.build { $0.byte(0x08); $0.chat(chat); $0.user(author); $0.uint64(block) }
    }

    static func authorDeletedBlocksPrefix(_ chat: ChatID, _ author: UserID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x08); $0.chat(chat); $0.user(author) }
    }

    static func decodeDeleted(_ key: [UInt8]) -> UInt64? {
        KeyReader.read(key) { reader in
            guard reader.byte() == 0x05, reader.chat() != nil, let sequence = reader.uint64(), reader.isAtEnd else { return nil }
            return sequence
        }
    }

    /// A position's value: the message's sequence number in its chat and its author.
    static func positionValue(_ sequence: UInt64, _ author: UserID) -> [UInt8] {
        KeyWriter.build { $0.uint64(sequence); $0.raw(author.rawValue.utf8) }
    }

    static func decodePositionValue(_ bytes: [UInt8]) throws -> (UInt64, UserID) {
        guard bytes.count >= 8, let sequence = KeyReader.read(bytes, { $0.uint64() }) else {
            throw StorageError.malformed("read-state position of \(bytes.count) bytes")
        }
        return (sequence, UserID(unchecked: String(decoding: bytes[8...], as: UTF8.self)))
    }

    static func marker(_ user: UserID, _ chat: ChatID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x03); $0.user(user); $0.chat(chat) }
    }

    static let sequencesPrefix: [UInt8] = [0x01]
    static let markersPrefix: [UInt8] = [0x03]
    static let horizon: [UInt8] = [0x04]

    static func decodeSequence(_ key: [UInt8]) -> ChatID? {
        KeyReader.read(key) { reader in
            guard reader.byte() == 0x01, let chat = reader.chat(), reader.isAtEnd else { return nil }
            return chat
        }
    }

    static func decodeMarker(_ key: [UInt8]) -> (user: UserID, chat: ChatID)? {
        KeyReader.read(key) { reader in
            guard reader.byte() == 0x03, let user = reader.user(), let chat = reader.chat(), reader.isAtEnd else { return nil }
            return (user, chat)
        }
    }
}
