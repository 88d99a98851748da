import CRocksDB

/// Reads that all see the database as it was at one moment: a value computed from several
/// rows (an unread count: a marker, a message count, deleted messages) must not mix rows
/// from before and after a write that changed them together.
///
/// Counts as a live iterator: the database waits for it before it closes. Not `Sendable`:
/// a snapshot belongs to the task that made it.
public final class DatabaseSnapshot {
    private let database: Database
    /// Nil when made on a closing database: then reads see nothing.
    private let snapshot: OpaquePointer?
    private let dbHandle: OpaquePointer?
    private let readOptions: OpaquePointer

    init(database: Database, dbHandle: OpaquePointer?) {
        self.database = database
        self.dbHandle = dbHandle
        snapshot = dbHandle.map { rocksdb_create_snapshot($0) }
        readOptions = rocksdb_readoptions_create()
        if let snapshot { rocksdb_readoptions_set_snapshot(readOptions, snapshot) }
    }

    deinit {
        rocksdb_readoptions_destroy(readOptions)
        if let snapshot, let dbHandle { rocksdb_release_snapshot(dbHandle, snapshot) }
        database.iteratorEnded()
    }

    /// Makes `options` read at this snapshot.
    func apply(to options: OpaquePointer) {
        if let snapshot { rocksdb_readoptions_set_snapshot(options, snapshot) }
    }

    /// The value stored under `key` at the snapshot, or nil.
    public func get(_ key: [UInt8], in family: ColumnFamily) throws(StorageError) -> [UInt8]? {
        guard snapshot != nil else { throw .closed }
        return try database.get(key, in: family, options: readOptions)
    }

    /// An iterator over `family` at the snapshot, limited to `[lower, upper)` when given.
    public func makeIterator(over family: ColumnFamily, lower: [UInt8]? = nil, upper: [UInt8]? = nil) -> KeyValueIterator {
        database.makeIterator(over: family, lower: lower, upper: upper, snapshot: snapshot == nil ? nil : self)
    }
}
