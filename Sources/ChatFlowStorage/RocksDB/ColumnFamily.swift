import CRocksDB

/// An open column family of a `Database`. The handle stays valid until the database
/// closes, even after the family is dropped, so that a reader racing a drop cannot
/// touch freed memory.
public final class ColumnFamily: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    nonisolated(unsafe) let handle: OpaquePointer

    init(name: String, handle: OpaquePointer) {
        self.name = name
        self.handle = handle
    }

    public var description: String { name }

    public static func == (lhs: ColumnFamily, rhs: ColumnFamily) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
