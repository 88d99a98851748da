import CRocksDB

/// Puts, merges and deletes across column families that commit atomically in one `Database.write`.
///
/// Not `Sendable`: a batch belongs to the task that builds it.
public final class WriteBatch {
    let handle: OpaquePointer

    public init() {
        handle = rocksdb_writebatch_create()
    }

    deinit {
        rocksdb_writebatch_destroy(handle)
    }

    /// The number of operations in the batch.
    public var count: Int { Int(rocksdb_writebatch_count(handle)) }

    public func put(_ key: [UInt8], _ value: [UInt8], in family: ColumnFamily) {
        Self.withCStrings(key, value) { rocksdb_writebatch_put_cf(handle, family.handle, $0, $1, $2, $3) }
    }

    /// `put` with the key in memory the caller holds (no array for it).
    public func put(_ key: UnsafeRawBufferPointer, _ value: [UInt8], in family: ColumnFamily) {
        value.withUnsafeBufferPointer { v in
            v.withMemoryRebound(to: CChar.self) { vc in
                rocksdb_writebatch_put_cf(
                    handle, family.handle, key.baseAddress?.assumingMemoryBound(to: CChar.self), key.count,
                    vc.baseAddress, v.count)
            }
        }
    }

    /// A merge operand for `key` (see `IDSetMerge`).
    public func merge(_ key: [UInt8], _ operand: [UInt8], in family: ColumnFamily) {
        Self.withCStrings(key, operand) { rocksdb_writebatch_merge_cf(handle, family.handle, $0, $1, $2, $3) }
    }

    public func delete(_ key: [UInt8], in family: ColumnFamily) {
        key.withUnsafeBufferPointer { k in
            k.withMemoryRebound(to: CChar.self) { kc in
                rocksdb_writebatch_delete_cf(handle, family.handle, kc.baseAddress, k.count)
            }
        }
    }

    /// Deletes every key in `[start, end)`.
    public func deleteRange(from start: [UInt8], to end: [UInt8], in family: ColumnFamily) {
        start.withUnsafeBufferPointer { s in
            end.withUnsafeBufferPointer { e in
                s.withMemoryRebound(to: CChar.self) { sc in
                    e.withMemoryRebound(to: CChar.self) { ec in
                        rocksdb_writebatch_delete_range_cf(handle, family.handle, sc.baseAddress, s.count, ec.baseAddress, e.count)
                    }
                }
            }
        }
    }

    public func clear() {
        rocksdb_writebatch_clear(handle)
    }

    /// Two byte arrays as the C API takes them: pointer and length each.
    private static func withCStrings(_ first: [UInt8], _ second: [UInt8], _ body: (UnsafePointer<CChar>?, Int, UnsafePointer<CChar>?, Int) -> Void) {
        first.withUnsafeBufferPointer { a in
            second.withUnsafeBufferPointer { b in
                a.withMemoryRebound(to: CChar.self) { ac in
                    b.withMemoryRebound(to: CChar.self) { bc in body(ac.baseAddress, a.count, bc.baseAddress, b.count) }
                }
            }
        }
    }
}
