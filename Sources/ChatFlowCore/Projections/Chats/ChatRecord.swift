import ChatFlowStorage

/// A chat's row: `name ‖ description ‖ isPrivate ‖ createdBy ‖ memberCount(varint)`.
/// Its creation time is its id's timestamp.
struct ChatRecord: Equatable {
    var name: String
    var description: String
    var isPrivate: Bool
    var createdBy: UserID
    var memberCount: UInt64

    func encoded() -> [UInt8] {
        RecordCoding.encode { w in
            w.writeString(name)
            w.writeString(description)
            w.writeBool(isPrivate)
            w.writeString(createdBy.rawValue)
            w.writeVarint(memberCount)
        }
    }

    init(name: String, description: String, isPrivate: Bool, createdBy: UserID, memberCount: UInt64) {
        self.name = name
        self.description = description
        self.isPrivate = isPrivate
        self.createdBy = createdBy
        self.memberCount = memberCount
    }

    init(decoding bytes: [UInt8]) throws(StorageError) {
        self = try RecordCoding.decode(bytes, "chat record") { r throws(EventCodecError) in
            ChatRecord(
                name: try r.readString("name"), description: try r.readString("description"),
                isPrivate: try r.readBool("isPrivate"), createdBy: UserID(unchecked: try r.readString("createdBy")),
                memberCount: try r.readVarint("memberCount"))
        }
    }
}
