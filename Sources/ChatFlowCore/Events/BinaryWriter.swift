import ChatFlowStorage

/// Appends the event codec's primitives to a byte buffer.
///
/// - byte: 1 byte as is.
/// - varint: unsigned LEB128, 7 bits per byte, least significant group first, high bit set
///   on every byte but the last; always the shortest form (1–10 bytes).
/// - str: varint byte length ‖ UTF-8 bytes.
/// - id: 16 bytes, the ULID's big-endian key form.
/// - bool: 0x00 or 0x01.
/// - optional: 0x00 when absent, 0x01 ‖ value when present.
struct BinaryWriter {
    var buffer: [UInt8]

    init(buffer: [UInt8] = []) {
        self.buffer = buffer
    }

    mutating func writeByte(_ byte: UInt8) {
        buffer.append(byte)
    }

    mutating func writeVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            buffer.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        buffer.append(UInt8(rest))
    }

    mutating func writeString(_ string: String) {
        let utf8 = string.utf8
        writeVarint(UInt64(utf8.count))
        buffer.append(contentsOf: utf8)
    }

    mutating func writeULID(_ id: ULID) {
        // Two 8-byte appends rather than sixteen single-byte ones.
        withUnsafeBytes(of: id.high.bigEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: id.low.bigEndian) { buffer.append(contentsOf: $0) }
    }

    mutating func writeBool(_ value: Bool) {
        buffer.append(value ? 1 : 0)
    }

    mutating func writeOptional<Value>(_ value: Value?, _ write: (inout BinaryWriter, Value) -> Void) {
        guard let value else {
            buffer.append(0)
            return
        }
        buffer.append(1)
        write(&self, value)
    }
}
