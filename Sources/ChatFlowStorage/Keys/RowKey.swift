#if canImport(Glibc)
import Glibc
#endif

/// Key bytes as a dictionary key and sort key: hashed once, in one pass over the bytes, and
/// compared with `memcmp`, where `[UInt8]`'s own conformances go element by element.
/// The hash is kept: a dictionary lookup compares the key it looks for with every key on
/// its probe path, and keys of other hashes are told apart without reading their bytes.
public struct RowKey: Hashable, Comparable, Sendable {
    public let bytes: [UInt8]
    private let hash: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var hasher = Hasher()
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        hash = hasher.finalize()
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(hash)
    }

    public static func == (lhs: RowKey, rhs: RowKey) -> Bool {
        lhs.hash == rhs.hash && lhs.bytes.count == rhs.bytes.count && compare(lhs.bytes, rhs.bytes) == 0
    }

    public static func < (lhs: RowKey, rhs: RowKey) -> Bool {
        let common = compare(lhs.bytes, rhs.bytes)
        return common != 0 ? common < 0 : lhs.bytes.count < rhs.bytes.count
    }

    /// memcmp over the common length.
    private static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int32 {
        a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in
                let n = Swift.min(pa.count, pb.count)
                return n == 0 ? 0 : memcmp(pa.baseAddress!, pb.baseAddress!, n)
            }
        }
    }
}
