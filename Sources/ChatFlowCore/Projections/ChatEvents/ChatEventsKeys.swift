import ChatFlowStorage

/// Key layout of the `chat_events` projection:
/// - `0x01 ‖ chat(16) ‖ event(16) → ()` (a chat's events in log order)
enum ChatEventsKeys {
    static func event(_ chat: ChatID, _ event: ULID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x01); $0.chat(chat); $0.ulid(event) }
    }

    static func chatPrefix(_ chat: ChatID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x01); $0.chat(chat) }
    }

    /// Every chat's rows.
    static let allChats: [UInt8] = [0x01]

    static func decodeEvent(_ key: [UInt8]) -> (chat: ChatID, event: ULID)? {
        KeyReader.read(key) { reader in
            guard reader.byte() == 0x01, let chat = reader.chat(), let event = reader.ulid(), reader.isAtEnd else { return nil }
            return (chat, event)
        }
    }
}
