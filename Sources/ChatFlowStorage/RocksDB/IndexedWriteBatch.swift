import CRocksDB

/// A write batch that can be read back before it is written: point reads and iterators
/// see the batch's own puts and deletes over the database. Projections use it so that an
/// event applied later in a batch sees the rows an earlier event of the same batch wrote.
///
/// Range deletes are not supported here (RocksDB cannot index them). Not `Sendable`.
public final class IndexedWriteBatch {
    let handle: OpaquePointer
    private let database: Database

    public init(database: Database, reservedBytes: Int = 1 << 20) {
        self.database = database
        // overwrite_keys: a later put of the same key replaces the earlier one in the index.
        handle = rocksdb_writebatch_wi_create(reservedBytes, 1)
    }

    deinit {
        rocksdb_writebatch_wi_destroy(handle)
    }

    public var count: Int { Int(rocksdb_writebatch_wi_count(handle)) }

    public func clear() { rocksdb_writebatch_wi_clear(handle) }

    public func put(_ key: [UInt8], _ value: [UInt8], in family: ColumnFamily) {
        key.withUnsafeBufferPointer { k in
            value.withUnsafeBufferPointer { v in
                k.withMemoryRebound(to: CChar.self) { kc in
                    v.withMemoryRebound(to: CChar.self) { vc in
                        rocksdb_writebatch_wi_put_cf(handle, family.handle, kc.baseAddress, k.count, vc.baseAddress, v.count)
                    }
                }
            }
        }
    }

    public func delete(_ key: [UInt8], in family: ColumnFamily) {
        key.withUnsafeBufferPointer { k in
            k.withMemoryRebound(to: CChar.self) { kc in
                rocksdb_writebatch_wi_delete_cf(handle, family.handle, kc.baseAddress, k.count)
            }
        }
    }

    /// The value under `key` as this batch would leave it: the batch first, then the database.
    public func get(_ key: [UInt8], in family: ColumnFamily) throws(StorageError) -> [UInt8]? {
        try database.get(key, in: family, through: self)
    }

    /// An iterator over the database as this batch would leave it, from `lower` on.
    /// The batch's own keys are not bounded: callers check where their range ends.
    public func makeIterator(over family: ColumnFamily, lower: [UInt8]? = nil, upper: [UInt8]? = nil) -> KeyValueIterator {
        database.makeIterator(over: family, lower: lower, upper: upper, through: self)
    }
}
