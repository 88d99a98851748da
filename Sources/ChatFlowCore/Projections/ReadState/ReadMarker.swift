import ChatFlowStorage

/// A member's read marker in a chat: `lastRead(16, all zero = none) ‖ sequence(varint) ‖ ownSince(varint)`,
/// where `sequence` is the chat's message count at the marker and `ownSince` counts the
/// member's own messages after it.
struct ReadMarker: Equatable {
    var lastRead: MessageID?
    var sequence: UInt64
    var ownSince: UInt64

    func encoded() -> [UInt8] {
        RecordCoding.encode { w in
            w.writeULID(lastRead?.ulid ?? .zero)
            w.writeVarint(sequence)
            w.writeVarint(ownSince)
        }
    }

    init(lastRead: MessageID?, sequence: UInt64, ownSince: UInt64) {
        self.lastRead = lastRead
        self.sequence = sequence
        self.ownSince = ownSince
    }

    init(decoding bytes: [UInt8]) throws(StorageError) {
        self = try RecordCoding.decode(bytes, "read marker") { r throws(EventCodecError) in
            let last = try r.readULID("lastRead")
            return ReadMarker(
                lastRead: last == .zero ? nil : MessageID(last),
                sequence: try r.readVarint("sequence"), ownSince: try r.readVarint("ownSince"))
        }
    }
}
