import CRocksDB
#if canImport(Glibc)
import Glibc
#endif

/// A cursor over one column family, optionally bounded to `[lower, upper)`.
///
/// Key and value buffers are valid until the iterator moves; `key` and `value` copy them.
/// Not `Sendable`: an iterator belongs to the task that made it.
public final class KeyValueIterator {
    /// Nil when made on a closing database: then empty.
    private let handle: OpaquePointer?
    private let readOptions: OpaquePointer
    // RocksDB keeps pointers to the bounds: they live exactly as long as the iterator.
    private let lowerBound: UnsafeMutableRawBufferPointer?
    private let upperBound: UnsafeMutableRawBufferPointer?
    // Counts this iterator as alive: the database waits for it before it closes.
    private let database: Database
    // Kept until the iterator is destroyed: RocksDB reads through the snapshot until then.
    private let snapshot: DatabaseSnapshot?

    init(
        database: Database, dbHandle: OpaquePointer?, family: ColumnFamily, lower: [UInt8]?, upper: [UInt8]?, fillCache: Bool,
        snapshot: DatabaseSnapshot? = nil, includingRangeDeleted: Bool = false
    ) {
        self.database = database
        self.snapshot = snapshot
        readOptions = rocksdb_readoptions_create()
        rocksdb_readoptions_set_fill_cache(readOptions, fillCache ? 1 : 0)
        if includingRangeDeleted { rocksdb_readoptions_set_ignore_range_deletions(readOptions, 1) }
        if let snapshot { snapshot.apply(to: readOptions) }
        lowerBound = lower.map(KeyValueIterator.copy)
        upperBound = upper.map(KeyValueIterator.copy)
        if let lowerBound {
            rocksdb_readoptions_set_iterate_lower_bound(
                readOptions, lowerBound.baseAddress?.assumingMemoryBound(to: CChar.self), lowerBound.count)
        }
        if let upperBound {
            rocksdb_readoptions_set_iterate_upper_bound(
                readOptions, upperBound.baseAddress?.assumingMemoryBound(to: CChar.self), upperBound.count)
        }
        let options = readOptions
        handle = dbHandle.map { rocksdb_create_iterator_cf($0, options, family.handle) }
    }

    deinit {
        if let handle { rocksdb_iter_destroy(handle) }
        rocksdb_readoptions_destroy(readOptions)
        lowerBound?.deallocate()
        upperBound?.deallocate()
        database.iteratorEnded()
    }

    private static func copy(_ bytes: [UInt8]) -> UnsafeMutableRawBufferPointer {
        // One byte minimum so that an empty bound still has a valid address.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(bytes.count, 1), alignment: 1)
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes.count])
    }

    public var isValid: Bool { handle.map { rocksdb_iter_valid($0) != 0 } ?? false }

    public func seekToFirst() { if let handle { rocksdb_iter_seek_to_first(handle) } }
    public func seekToLast() { if let handle { rocksdb_iter_seek_to_last(handle) } }
    public func next() { if let handle { rocksdb_iter_next(handle) } }
    public func previous() { if let handle { rocksdb_iter_prev(handle) } }

    /// Moves to the first key ≥ `key`.
    public func seek(_ key: [UInt8]) {
        guard let handle else { return }
        key.withUnsafeBufferPointer { k in
            k.withMemoryRebound(to: CChar.self) { rocksdb_iter_seek(handle, $0.baseAddress, k.count) }
        }
    }

    /// Moves to the last key ≤ `key`.
    public func seekForPrevious(_ key: [UInt8]) {
        guard let handle else { return }
        key.withUnsafeBufferPointer { k in
            k.withMemoryRebound(to: CChar.self) { rocksdb_iter_seek_for_prev(handle, $0.baseAddress, k.count) }
        }
    }

    // Inlinable, so that each caller gets a copy specialized for its result type: a
    // generic call per key costs more than the key itself in tight index scans.
    /// The current key, without copying; valid only inside `body`.
    @inlinable
    public func withKey<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(keyBytes)
    }

    /// The current value, without copying; valid only inside `body`.
    @inlinable
    public func withValue<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(valueBytes)
    }

    /// The current key's bytes, without copying: valid until the iterator moves.
    public var keyBytes: UnsafeRawBufferPointer {
        guard let handle else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        var length = 0
        let pointer = rocksdb_iter_key(handle, &length)
        return UnsafeRawBufferPointer(start: pointer, count: length)
    }

    /// The current value's bytes, without copying: valid until the iterator moves.
    public var valueBytes: UnsafeRawBufferPointer {
        guard let handle else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        var length = 0
        let pointer = rocksdb_iter_value(handle, &length)
        return UnsafeRawBufferPointer(start: pointer, count: length)
    }

    public var key: [UInt8] { withKey { Array($0) } }
    public var value: [UInt8] { withValue { Array($0) } }

    /// Throws if the iteration stopped because of an error rather than the end of the range.
    public func checkError() throws(StorageError) {
        guard let handle else { throw .closed }
        var error: UnsafeMutablePointer<CChar>?
        rocksdb_iter_get_error(handle, &error)
        if let error {
            let message = String(cString: error)
            rocksdb_free(error)
            throw StorageError.from(rocksMessage: message, path: database.path)
        }
    }
}
