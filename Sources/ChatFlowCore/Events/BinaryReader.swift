import ChatFlowStorage

/// Reads the primitives that `BinaryWriter` writes, checking every bound.
///
/// It never traps on bad input: each read either returns a value or throws an
/// `EventCodecError` naming the field and the offset where it begins. It reads straight
/// from borrowed memory (an array's storage or a RocksDB value) without copying bytes,
/// so decoding an event costs little more than creating its strings.
struct BinaryReader {
    private let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0

    /// `bytes` must stay valid for the reader's lifetime.
    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - offset }
    var isAtEnd: Bool { offset == bytes.count }

    mutating func readByte(_ field: StaticString) throws(EventCodecError) -> UInt8 {
        guard offset < bytes.count else {
            throw .truncated(field: "\(field)", needed: 1, offset: offset, remaining: 0)
        }
        let byte = bytes[offset]
        offset += 1
        return byte
    }

    /// An unsigned LEB128 varint of at most 10 bytes, in its shortest form. `suffix` is
    /// appended to the field's name in errors (" length" for a string's length prefix).
    mutating func readVarint(_ field: StaticString, suffix: StaticString = "") throws(EventCodecError) -> UInt64 {
        let start = offset
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else {
                throw .truncated(field: "\(field)\(suffix)", needed: 1, offset: offset, remaining: 0)
            }
            let byte = bytes[offset]
            offset += 1
            if shift == 63 {
                // The tenth byte holds only bit 63.
                if byte & 0x80 != 0 { throw .varintTooLong(field: "\(field)\(suffix)", offset: start) }
                if byte > 1 { throw .varintOverflow(field: "\(field)\(suffix)", offset: start) }
            }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                if byte == 0 && shift > 0 { throw .varintNotMinimal(field: "\(field)\(suffix)", offset: start) }
                return value
            }
            shift += 7
        }
    }

    /// A varint byte length followed by that many bytes of UTF-8.
    mutating func readString(_ field: StaticString) throws(EventCodecError) -> String {
        let length = try readVarint(field, suffix: " length")
        guard length <= UInt64(remaining) else {
            throw .lengthBeyondEnd(field: "\(field)", length: length, offset: offset, remaining: remaining)
        }
        let start = offset
        let end = start + Int(length)
        let text = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            .withMemoryRebound(to: UInt8.self, BinaryReader.string(validatingUTF8:))
        guard let text else { throw .invalidUTF8(field: "\(field)", offset: start) }
        offset = end
        return text
    }

    /// 16 bytes, big-endian.
    mutating func readULID(_ field: StaticString) throws(EventCodecError) -> ULID {
        guard remaining >= ULID.byteCount else {
            throw .truncated(field: "\(field)", needed: ULID.byteCount, offset: offset, remaining: remaining)
        }
        let high = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        let low = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
        offset += ULID.byteCount
        return ULID(high: high, low: low)
    }

    mutating func readBool(_ field: StaticString) throws(EventCodecError) -> Bool {
        let byte = try readByte(field)
        switch byte {
        case 0: return false
        case 1: return true
        default: throw .invalidBool(field: "\(field)", byte: byte, offset: offset - 1)
        }
    }

    /// The marker before an optional value: true when the value follows.
    mutating func readPresence(_ field: StaticString) throws(EventCodecError) -> Bool {
        let byte = try readByte(field)
        switch byte {
        case 0: return false
        case 1: return true
        default: throw .invalidPresenceMarker(field: "\(field)", byte: byte, offset: offset - 1)
        }
    }

    /// A one-byte enum code, mapped through `make`.
    mutating func readCode<Value>(_ field: StaticString, _ make: (UInt8) -> Value?) throws(EventCodecError) -> Value {
        let code = try readByte(field)
        guard let value = make(code) else {
            throw .unknownCode(field: "\(field)", code: code, offset: offset - 1)
        }
        return value
    }

    /// The bytes as a String, or nil when they are not valid UTF-8.
    ///
    /// `String(decoding:as:)` is the stdlib's fast specialized path, but it repairs bad
    /// input with U+FFFD instead of failing. A repair always changes the bytes (a valid
    /// U+FFFD in the input is not repaired), so the input was valid exactly when the
    /// result's bytes equal it. `String(validating:as:)` does the same job through
    /// unspecialized generic code, several times slower on short strings.
    private static func string(validatingUTF8 bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        let unchanged = text.utf8.withContiguousStorageIfAvailable {
            equal(UnsafeRawBufferPointer($0), UnsafeRawBufferPointer(bytes))
        } ?? text.utf8.elementsEqual(bytes)
        return unchanged ? text : nil
    }

    /// Compares eight bytes at a time; `elementsEqual` goes one byte at a time.
    private static func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        var i = 0
        while i + 8 <= a.count {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
                return false
            }
            i += 8
        }
        while i < a.count {
            if a[i] != b[i] { return false }
            i += 1
        }
        return true
    }
}
