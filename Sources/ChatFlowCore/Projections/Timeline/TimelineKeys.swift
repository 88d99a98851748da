import ChatFlowStorage

/// Key layouts of the `timeline` projection:
/// - `0x01 ‖ chat(16) ‖ message(16) → MessageRecord` (a chat's messages in id = time order)
/// - `0x02 ‖ message(16) → chat(16)` (which chat a message is in)
enum TimelineKeys {
    static func message(_ chat: ChatID, _ message: MessageID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x01); $0.chat(chat); $0.message(message) }
    }

    static func chatPrefix(_ chat: ChatID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x01); $0.chat(chat) }
    }

    static func decodeMessage(_ key: [UInt8]) -> (ChatID, MessageID)? {
        KeyReader.read(key) { reader in
            guard reader.byte() == 0x01, let chat = reader.chat(), let message = reader.message(), reader.isAtEnd else { return nil }
            return (chat, message)
        }
    }

    static func messageChat(_ message: MessageID) -> [UInt8] {
        KeyWriter.build { $0.byte(0x02); $0.message(message) }
    }
}
