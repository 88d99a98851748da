import CRocksDB

/// Puts and deletes across column families that commit atomically in one `Database.write`.
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
        key.withUnsafeBufferPointer { k in
            value.withUnsafeBufferPointer { v in
                k.withMemoryRebound(to: CChar.self) { kc in
                    v.withMemoryRebound(to: CChar.self) { vc in
                        rocksdb_writebatch_put_cf(handle, family.handle, kc.baseAddress, k.count, vc.baseAddress, v.count)
                    }
                }
            }
        }
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
}
