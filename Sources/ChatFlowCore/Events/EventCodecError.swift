/// Why bytes from the log are not an event this build can read.
///
/// `field` names the part being read ("actor", "chat id", "content length", …) and
/// `offset` is the byte position, counted from the start of the encoded event, where that
/// part begins, so a corrupt record can be found with a hex dump.
public enum EventCodecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The first byte is a format version this build does not know.
    case unsupportedVersion(UInt8)
    /// The second byte is not an `EventKind` code.
    case unknownKind(UInt8)
    /// The input ends before a fixed-size part does.
    case truncated(field: String, needed: Int, offset: Int, remaining: Int)
    /// A string's length prefix points past the end of the input.
    case lengthBeyondEnd(field: String, length: UInt64, offset: Int, remaining: Int)
    /// A length varint continues past 10 bytes.
    case varintTooLong(field: String, offset: Int)
    /// A length varint has bits beyond 64 in its tenth byte.
    case varintOverflow(field: String, offset: Int)
    /// A length varint has a redundant trailing zero group; the writer never produces one,
    /// and rejecting it keeps each event's encoding unique.
    case varintNotMinimal(field: String, offset: Int)
    case invalidUTF8(field: String, offset: Int)
    case invalidBool(field: String, byte: UInt8, offset: Int)
    /// An optional's marker byte is neither 0x00 (absent) nor 0x01 (present).
    case invalidPresenceMarker(field: String, byte: UInt8, offset: Int)
    /// A one-byte enum (member role, message type) has a code this build does not know.
    case unknownCode(field: String, code: UInt8, offset: Int)
    /// Bytes remain after the last field of the event.
    case trailingBytes(kind: EventKind, count: Int, offset: Int)

    public var description: String {
        switch self {
        case .unsupportedVersion(let version):
            "unsupported event format version \(version) (this build reads version \(EventCodec.formatVersion))"
        case .unknownKind(let code):
            "unknown event kind \(code)"
        case .truncated(let field, let needed, let offset, let remaining):
            "truncated event: needed \(needed) \(needed == 1 ? "byte" : "bytes") for \(field) at offset \(offset), \(remaining) left"
        case .lengthBeyondEnd(let field, let length, let offset, let remaining):
            "truncated event: \(field) is \(length) bytes long at offset \(offset), but only \(remaining) are left"
        case .varintTooLong(let field, let offset):
            "\(field) at offset \(offset) is a varint longer than 10 bytes"
        case .varintOverflow(let field, let offset):
            "\(field) at offset \(offset) is a varint that does not fit in 64 bits"
        case .varintNotMinimal(let field, let offset):
            "\(field) at offset \(offset) is a varint with redundant trailing zero bytes"
        case .invalidUTF8(let field, let offset):
            "\(field) at offset \(offset) is not valid UTF-8"
        case .invalidBool(let field, let byte, let offset):
            "\(field) at offset \(offset) is \(hex(byte)), expected 0x00 or 0x01"
        case .invalidPresenceMarker(let field, let byte, let offset):
            "presence marker of \(field) at offset \(offset) is \(hex(byte)), expected 0x00 (absent) or 0x01 (present)"
        case .unknownCode(let field, let code, let offset):
            "unknown \(field) code \(code) at offset \(offset)"
        case .trailingBytes(let kind, let count, let offset):
            "\(count) unexpected \(count == 1 ? "byte" : "bytes") at offset \(offset) after the end of a \(kind.wireName) event"
        }
    }

    private func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return byte < 16 ? "0x0\(digits)" : "0x\(digits)"
    }
}
