import ChatFlowStorage

/// Key layouts of the `chats` projection:
/// - `0x01 ‖ chat(16) → ChatRecord`
/// - `0x02 ‖ chat(16) ‖ user ‖ 0x00 → MemberRecord` (members of a chat, by user id)
/// - `0x03 ‖ user ‖ 0x00 ‖ chat(16) → ∅` (a user's chats, by chat id = creation order)
/// - `0x04 ‖ chat(16) → ∅` (the public chats, by chat id = creation order)
enum ChatsKeys {
    static func chat(_ chat: ChatID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x01); $0.chat(chat) }
    }

    static func member(_ chat: ChatID, _ user: UserID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x02); $0.chat(chat); $0.user(user) }
    }

    static func membersPrefix(_ chat: ChatID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x02); $0.chat(chat) }
    }

    static func decodeMember(_ key: [UInt8]) -> UserID? {
        KeyReader.read(key) { reader in
            guard reader.byte() == 0x02, reader.chat() != nil, let user = reader.user(), reader.isAtEnd else { return nil }
            return user
        }
    }

    static func userChat(_ user: UserID, _ chat: ChatID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x03); $0.user(user); $0.chat(chat) }
    }

    static func userChatsPrefix(_ user: UserID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x03); $0.user(user) }
    }

    static func decodeUserChat(_ key: [UInt8]) -> ChatID? {
        KeyReader.read(key) { reader in
            guard reader.byte() == 0x03, reader.user() != nil, let chat = reader.chat(), reader.isAtEnd else { return nil }
            return chat
        }
    }

    static let publicChatsPrefix: [UInt8] = [0x04]

    static func publicChat(_ chat: ChatID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x04); $0.chat(chat) }
    }

    static func decodePublicChat(_ key: [UInt8]) -> ChatID? {
        KeyReader.read(key) { reader in
            guard reader.byte() == 0x04, let chat = reader.chat(), reader.isAtEnd else { return nil }
            return chat
        }
    }
}
