import ChatFlowStorage

/// Key layouts of the `user_messages` projection (a user's own messages across chats):
/// - `0x01 ‖ user ‖ 0x00 ‖ message(16) → chat(16)` (newest first by reverse scan)
/// - `0x02 ‖ message(16) → user` (the author, so a delete by the chat owner finds the row)
enum UserIndexKeys {
    static func entry(_ user: UserID, _ message: MessageID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x01); $0.user(user); $0.message(message) }
    }

    static func userPrefix(_ user: UserID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x01); $0.user(user) }
    }

    static func decodeEntry(_ key: [UInt8]) -> MessageID? {
        KeyReader.read(key) { reader in
            guard reader.byte() == 0x01, reader.user() != nil, let message = reader.message(), reader.isAtEnd else { return nil }
            return message
        }
    }

    static func author(_ message: MessageID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x02); $0.message(message) }
    }
}
