/// Reads the parts written by `KeyWriter`, in the same order. Every read is bounds-checked
/// and returns nil on malformed bytes: keys come from disk, and disk can be damaged.
public struct KeyReader {
    private let bytes: UnsafeRawBufferPointer
    public private(set) var offset: Int

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.offset = 0
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset == bytes.count }

    public mutating func byte() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func uint64() -> UInt64? {
        guard remaining >= 8 else { return nil }
        var value: UInt64 = 0
        for i in 0..<8 { value = (value << 8) | UInt64(bytes[offset + i]) }
        offset += 8
        return value
    }

    public mutating func uint32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        var value: UInt32 = 0
        for i in 0..<4 { value = (value << 8) | UInt32(bytes[offset + i]) }
        offset += 4
        return value
    }

    public mutating func ulid() -> ULID? {
        guard let high = uint64(), let low = uint64() else { return nil }
        return ULID(high: high, low: low)
    }

    /// A string part up to its 0x00 terminator; nil if there is no terminator or the
    /// bytes are not UTF-8.
    public mutating func terminatedString() -> String? {
        guard let end = bytes[offset...].firstIndex(of: 0) else { return nil }
        let part = UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
        guard let text = String(validating: part, as: UTF8.self) else { return nil }
        offset = end + 1
        return text
    }

    /// Runs `body` with a reader over `bytes`.
    @inlinable
    public static func read<R>(_ bytes: [UInt8], _ body: (inout KeyReader) -> R) -> R {
        bytes.withUnsafeBytes { buffer in
            var reader = KeyReader(buffer)
            return body(&reader)
        }
    }
}
