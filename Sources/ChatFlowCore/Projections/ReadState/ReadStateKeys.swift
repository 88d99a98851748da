import ChatFlowStorage

/// Key layouts of the `read_state` projection:
/// - `0x01 ‖ chat(16) → sequence(8)` (messages posted in the chat so far)
/// - `0x02 ‖ chat(16) ‖ message(16) → sequence(8) ‖ author` (each message's place in its chat)
/// - `0x03 ‖ user ‖ 0x00 ‖ chat(16) → ReadMarker` (per member of the chat)
/// - `0x04 → horizon(16)` (retention removed the positions of messages before it)
/// - `0x05 ‖ chat(16) ‖ message(16) → sequence(8) ‖ author` (the positions of deleted messages)
/// - `0x06 ‖ chat(16) ‖ author ‖ 0x00 ‖ block(8) → count(8)` (the author's messages among
///   sequence numbers `block × ownBlockSize ..< (block + 1) × ownBlockSize`)
///
/// unread = sequence(chat) − marker.sequence − marker.ownSince − the deleted messages by
/// others after the marker: messages after the marker minus the reader's own and those
/// deleted since. Every message posted costs O(1) writes, whatever the chat's size; the
/// deleted ones after a marker are read newest first, and are few. A marker moved to any
/// message counts the reader's own after it in at most `ownBlockSize` positions plus one
/// row per block the reader posted in after it, however far back it goes.
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

    static func deleted(_ chat: ChatID, _ message: MessageID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x05); $0.chat(chat); $0.message(message) }
    }

    static func deletedPrefix(_ chat: ChatID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x05); $0.chat(chat) }
    }

    /// Sequence numbers per block of own-message counts: a marker move reads up to this many
    /// positions to finish its own block, then one count per later block.
    static let ownBlockSize: UInt64 = 512

    static func ownBlock(_ chat: ChatID, _ author: UserID, _ block: UInt64) -> [UInt8] {
        KeyWriter.build { $0.byte(0x06); $0.chat(chat); $0.user(author); $0.uint64(block) }
    }

    static func ownBlocksPrefix(_ chat: ChatID, _ author: UserID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x06); $0.chat(chat); $0.user(author) }
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
