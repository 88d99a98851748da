import ChatFlowStorage

/// Projection values use the event codec's primitives (varints, length-prefixed strings,
/// raw ids). Decoding a damaged value is a storage error, never a crash.
enum RecordCoding {
    static func encode(_ body: (inout BinaryWriter) -> Void) -> [UInt8] {
        var writer = BinaryWriter()
        body(&writer)
        return writer.buffer
    }

    static func decode<R>(_ bytes: [UInt8], _ what: String, _ body: (inout BinaryReader) throws(EventCodecError) -> R) throws(StorageError) -> R {
        do {
            return try bytes.withUnsafeBytes { (buffer) throws(EventCodecError) -> R in
                var reader = BinaryReader(buffer)
                return try body(&reader)
            }
        } catch {
            throw StorageError.malformed("\(what): \(error)")
        }
    }
}

extension KeyWriter {
    mutating func user(_ user: UserID) { terminatedString(user.rawValue) }
    mutating func chat(_ chat: ChatID) { ulid(chat.ulid) }
    mutating func message(_ message: MessageID) { ulid(message.ulid) }
}

extension KeyReader {
    mutating func user() -> UserID? { terminatedString().map(UserID.init(unchecked:)) }
    mutating func chat() -> ChatID? { ulid().map(ChatID.init) }
    mutating func message() -> MessageID? { ulid().map(MessageID.init) }
}

/// Every projection family starts with this row: the id of the last event applied, written
/// in the same batch as the rows that event produced. Data rows start with a tag ≥ 0x01.
enum CheckpointKey {
    static let bytes: [UInt8] = [0x00]
}
