/// Builds storage keys from fixed-width big-endian parts, so that byte order is the
/// order of the parts: numbers and ids sort numerically, and strings sort by their bytes.
///
/// A variable-length string part is followed by a 0x00 terminator and must not contain
/// 0x00 itself, so that "ab" ‖ 0 sorts before "abc" ‖ 0 and no key is a prefix of another
/// key with a different string part.
public struct KeyWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 48) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Builds one key: `KeyWriter.build { $0.byte(1); $0.ulid(id) }`.
    @inlinable
    public static func build(capacity: Int = 48, _ body: (inout KeyWriter) -> Void) -> [UInt8] {
        var writer = KeyWriter(capacity: capacity)
        body(&writer)
        return writer.bytes
    }

    public mutating func byte(_ value: UInt8) {
        bytes.append(value)
    }

    public mutating func uint64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    public mutating func uint32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    public mutating func ulid(_ value: ULID) {
        value.append(to: &bytes)
    }

    /// A string part followed by the 0x00 terminator. The string must not contain NUL;
    /// callers validate their strings (user ids, search terms) before they get here.
    public mutating func terminatedString(_ value: String) {
        let utf8 = value.utf8
        precondition(!utf8.contains(0), "a key string part must not contain NUL")
        bytes.append(contentsOf: utf8)
        bytes.append(0)
    }

    public mutating func raw(_ value: some Sequence<UInt8>) {
        bytes.append(contentsOf: value)
    }

    /// The smallest key greater than every key that starts with `prefix`, for use as an
    /// exclusive upper bound; nil when no such key exists (the prefix is all 0xFF).
    public static func prefixSuccessor(_ prefix: [UInt8]) -> [UInt8]? {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return nil
    }
}
