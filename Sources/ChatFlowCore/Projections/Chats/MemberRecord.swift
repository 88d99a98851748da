import ChatFlowStorage

/// A membership row: `role(1) ‖ joinedAt(varint ms)`.
struct MemberRecord: Equatable {
    var role: MemberRole
    var joinedAt: UInt64

    func encoded() -> [UInt8] {
        RecordCoding.encode { w in
            w.writeByte(role.code)
            w.writeVarint(joinedAt)
        }
    }

    init(role: MemberRole, joinedAt: UInt64) {
        self.role = role
        self.joinedAt = joinedAt
    }

    init(decoding bytes: [UInt8]) throws(StorageError) {
        self = try RecordCoding.decode(bytes, "member record") { r throws(EventCodecError) in
            MemberRecord(role: try r.readCode("role", MemberRole.init(code:)), joinedAt: try r.readVarint("joinedAt"))
        }
    }
}
