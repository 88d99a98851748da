import ChatFlowStorage

/// Key layouts of the `user_messages` projection (a user's own messages across chats, and
/// in each chat):
/// - `0x01 ‖ user ‖ 0x00 ‖ message(16) → chat(16)` (newest first by reverse scan)
/// - `0x02 ‖ message(16) → chat(16) ‖ user` (the author, so a delete by the chat owner finds the rows)
/// - `0x03 ‖ chat(16) ‖ user ‖ 0x00 ‖ message(16) → ()` (an author's messages in one chat,
///   for `from:` searches: walking the author's messages in every chat instead would let a
///   search in one chat time how much they write where the searcher cannot read)
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

    static func authorValue(_ chat: ChatID, _ user: UserID) -> [UInt8] {
        KeyWriter.build { $0.chat(chat); $0.user(user) }
    }

    static func decodeAuthorValue(_ value: [UInt8]) -> (chat: ChatID, user: UserID)? {
        KeyReader.read(value) { reader in
            guard let chat = reader.chat(), let user = reader.user(), reader.isAtEnd else { return nil }
            return (chat, user)
        }
    }

    static func chatEntry(_ chat: ChatID, _ user: UserID, _ message: MessageID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x03); $0.chat(chat); $0.user(user); $0.message(message) }
    }

    static func chatUserPrefix(_ chat: ChatID, _ user: UserID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x03); $0.chat(chat); $0.user(user) }
    }

    static func decodeChatEntry(_ key: [UInt8]) -> MessageID? {
        KeyReader.read(key) { reader in
            guard reader.byte() == 0x03, reader.chat() != nil, reader.user() != nil, let message = reader.message(), reader.isAtEnd else { return nil }
            return message
        }
    }
}
