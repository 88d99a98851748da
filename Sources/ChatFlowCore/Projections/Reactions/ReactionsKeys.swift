import ChatFlowStorage

/// Key layouts of the `reactions` projection:
/// - `0x01 ‖ message(16) ‖ emoji ‖ 0x00 ‖ user ‖ 0x00 → reactedAt(8)` (who reacted with what)
/// - `0x02 ‖ message(16) ‖ emoji ‖ 0x00 → count(8)` (the per-emoji count, absent at zero)
/// - `0x03 → horizon(16)` (retention removed the messages before it)
enum ReactionsKeys {
    static let horizon: [UInt8] = [0x03]

    static func reaction(_ message: MessageID, _ emoji: String, _ user: UserID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x01); $0.message(message); $0.terminatedString(emoji); $0.user(user) }
    }

    static func reactionsPrefix(_ message: MessageID, _ emoji: String) -> [UInt8] {
        KeyWriter.build { $0.byte(0x01); $0.message(message); $0.terminatedString(emoji) }
    }

    static func decodeReaction(_ key: [UInt8]) -> (emoji: String, user: UserID)? {
        KeyReader.read(key) { reader in
            guard reader.byte() == 0x01, reader.message() != nil, let emoji = reader.terminatedString(),
                  let user = reader.user(), reader.isAtEnd else { return nil }
            return (emoji, user)
        }
    }

    static func count(_ message: MessageID, _ emoji: String) -> [UInt8] {
        KeyWriter.build { $0.byte(0x02); $0.message(message); $0.terminatedString(emoji) }
    }

    static func countsPrefix(_ message: MessageID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x02); $0.message(message) }
    }

    static func decodeCount(_ key: [UInt8]) -> String? {
        KeyReader.read(key) { reader in
            guard reader.byte() == 0x02, reader.message() != nil, let emoji = reader.terminatedString(), reader.isAtEnd else { return nil }
            return emoji
        }
    }

    /// The key ranges holding the reactions and counts of every message before `message`.
    static func rangesBefore(_ message: MessageID) -> [(lower: [UInt8], upper: [UInt8])] {
        ([0x01, 0x02] as [UInt8]).map { tag in
            (KeyWriter.build { $0.byte(tag); $0.message(MessageID(.zero)) }, KeyWriter.build { $0.byte(tag); $0.message(message) })
        }
    }
}
