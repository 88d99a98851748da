import ChatFlowStorage

/// A message row: `author ‖ type(1) ‖ content ‖ editedAt? ‖ deleted`. A deleted message
/// keeps its row as a tombstone with empty content.
struct MessageRecord: Equatable {
    var author: UserID
    var type: MessageType
    var content: String
    var editedAt: UInt64?
    var deleted: Bool

    func encoded() -> [UInt8] {
        RecordCoding.encode { w in
            w.writeString(author.rawValue)
            w.writeByte(type.code)
            w.writeString(content)
            w.writeOptional(editedAt) { $0.writeVarint($1) }
            w.writeBool(deleted)
        }
    }

    init(author: UserID, type: MessageType, content: String, editedAt: UInt64?, deleted: Bool) {
        self.author = author
        self.type = type
        self.content = content
        self.editedAt = editedAt
        self.deleted = deleted
    }

    init(decoding bytes: [UInt8]) throws(StorageError) {
        self = try RecordCoding.decode(bytes, "message record") { r throws(EventCodecError) in
            let author = UserID(unchecked: try r.readString("author"))
            let type = try r.readCode("type", MessageType.init(code:))
            let content = try r.readString("content")
            let editedAt: UInt64? = try r.readPresence("editedAt") ? try r.readVarint("editedAt") : nil
            return MessageRecord(author: author, type: type, content: content, editedAt: editedAt, deleted: try r.readBool("deleted"))
        }
    }
}
