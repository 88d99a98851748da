import CRocksDB
import CRocksDBLogger
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An open RocksDB database with named column families.
///
/// All methods block the calling thread (a synced write waits for an fsync): callers keep
/// them off event-loop threads. `close()` must not race other calls on the same instance.
public final class Database: Sendable {
    public let path: String
    public let isReadOnly: Bool

    nonisolated(unsafe) private let handle: OpaquePointer
    nonisolated(unsafe) private let options: OpaquePointer
    nonisolated(unsafe) private let tableOptions: OpaquePointer
    nonisolated(unsafe) private let cache: OpaquePointer
    nonisolated(unsafe) private let readOptions: OpaquePointer
    nonisolated(unsafe) private let syncWriteOptions: OpaquePointer
    nonisolated(unsafe) private let bufferedWriteOptions: OpaquePointer
    nonisolated(unsafe) private let unloggedWriteOptions: OpaquePointer
    nonisolated(unsafe) private let flushOptions: OpaquePointer
    /// The "default" family's options: it holds only the write-ahead log's anchor row (see
    /// `anchorWriteAheadLog()`).
    nonisolated(unsafe) private let anchorOptions: OpaquePointer
    /// The "default" family, kept apart from `state` for the hot path of every write.
    nonisolated(unsafe) private let anchorFamily: OpaquePointer
    /// Kept alive as long as the database may log.
    private let diagnostics: DatabaseDiagnostics.Sink

    /// RocksDB's words for what opening dropped from a damaged write-ahead log: the writes
    /// after the damage are gone (recovery keeps the consistent prefix before it). Empty
    /// for a log that was whole or only torn at its end by a crash.
    public var walDamage: [String] { diagnostics.walDamage.withLock { $0 } }

    private struct State {
        var families: [String: ColumnFamily] = [:]
        /// Dropped families whose handles are destroyed only at close (see `ColumnFamily`).
        var retired: [ColumnFamily] = []
        var closed = false
    }
    private let state: Mutex<State>
    /// Calls into RocksDB in progress, and whether `close()` has begun: a call made late (by
    /// work still running at shutdown) is refused with `StorageError.closed` instead of
    /// using freed handles, and `close()` waits for the calls already in progress.
    private let callsInProgress = Atomic<Int>(0)
    /// Iterators alive: they read the database's memory until they are destroyed.
    private let liveIterators = Atomic<Int>(0)
    private let closing = Atomic<Bool>(false)

    /// Opens (and, unless read-only, creates) the database at `path` with at least the
    /// given column families; families already on disk are opened too.
    public static func open(path: String, columnFamilies: [String], options: DatabaseOptions = DatabaseOptions()) throws(StorageError) -> Database {
        switch Directory.kind(of: path) {
        case .other:
            throw .notADirectory(path: path)
        case .missing:
            guard !options.readOnly, options.createIfMissing else {
                throw .noDatabase(path: path)
            }
            try Directory.create(path)
        case .directory:
            if !options.readOnly, let owner = Directory.otherOwner(of: path) {
                throw .ownedByAnotherUser(path: path, owner: owner)
            }
            if !options.readOnly, let problem = Directory.writeProblem(path) {
                throw .notWritable(path: path, detail: problem)
            }
            // RocksDB takes a directory without CURRENT for a new database, and would start
            // one over the files of a copy or a removal that did not finish.
            if !Directory.exists(path + "/CURRENT"), let leftover = Directory.databaseFile(in: path) {
                throw .corrupt(path: path, detail: "it holds database files (\(leftover)) but no CURRENT file; a copy or a removal of it did not finish")
            }
            // Said before RocksDB looks: it would leave its LOCK and LOG files behind.
            if !Directory.exists(path + "/CURRENT") && (options.readOnly || !options.createIfMissing) {
                throw .noDatabase(path: path)
            }
        }
        return try Database(path: path, requested: columnFamilies, settings: options)
    }

    private init(path: String, requested: [String], settings: DatabaseOptions) throws(StorageError) {
        self.path = path
        self.isReadOnly = settings.readOnly

        options = rocksdb_options_create()
        rocksdb_options_set_create_if_missing(options, settings.createIfMissing ? 1 : 0)
        rocksdb_options_set_create_missing_column_families(options, 1)
        rocksdb_options_set_paranoid_checks(options, 1)
        rocksdb_options_increase_parallelism(options, settings.backgroundJobs)
        rocksdb_options_set_max_background_jobs(options, settings.backgroundJobs)
        rocksdb_options_set_write_buffer_size(options, settings.writeBufferBytes)
        rocksdb_options_set_db_write_buffer_size(options, settings.memtableBudgetBytes)
        rocksdb_options_set_max_total_wal_size(options, settings.writeAheadLogBudgetBytes)
        rocksdb_options_set_max_open_files(options, settings.maxOpenFiles)
        rocksdb_options_set_compression(options, Int32(rocksdb_lz4_compression))
        rocksdb_options_set_level_compaction_dynamic_level_bytes(options, 1)
        rocksdb_options_set_bytes_per_sync(options, 1 << 20)
        // One thread inserts each write group into the memtable, reusing its position from
        // one key to the next: projection batches are written in key order, so this is fast.
        rocksdb_options_set_allow_concurrent_memtable_write(options, 0)
        // A torn WAL tail after a crash holds only unacknowledged writes: drop it, keep the rest.
        rocksdb_options_set_wal_recovery_mode(options, 2)  // kPointInTimeRecovery
        rocksdb_options_set_merge_operator(options, IDSetMerge.makeOperator())
        diagnostics = DatabaseDiagnostics.Sink(settings.diagnostics)
        let logger = DatabaseDiagnostics.makeLogger(for: diagnostics)
        rocksdb_options_set_info_log(options, logger)
        chatflow_rocksdb_logger_destroy(logger)
        cache = rocksdb_cache_create_lru(settings.blockCacheBytes)
        tableOptions = rocksdb_block_based_options_create()
        rocksdb_block_based_options_set_block_cache(tableOptions, cache)
        rocksdb_block_based_options_set_filter_policy(tableOptions, rocksdb_filterpolicy_create_bloom_full(10))
        rocksdb_block_based_options_set_cache_index_and_filter_blocks(tableOptions, 1)
        rocksdb_options_set_block_based_table_factory(options, tableOptions)

        readOptions = rocksdb_readoptions_create()
        syncWriteOptions = rocksdb_writeoptions_create()
        rocksdb_writeoptions_set_sync(syncWriteOptions, 1)
        bufferedWriteOptions = rocksdb_writeoptions_create()
        unloggedWriteOptions = rocksdb_writeoptions_create()
        rocksdb_writeoptions_disable_WAL(unloggedWriteOptions, 1)
        flushOptions = rocksdb_flushoptions_create()
        rocksdb_flushoptions_set_wait(flushOptions, 1)
        // One row rewritten twice before every logged write: each write is a memtable entry
        // of ~40 bytes, so a small memtable (flushed every ~50k logged writes into one row, or
        // sooner with the log's budget). Rewriting it in place would keep one entry, but
        // RocksDB then refuses snapshots in every family.
        anchorOptions = rocksdb_options_create_copy(options)
        rocksdb_options_set_write_buffer_size(anchorOptions, 4 << 20)

        let options = options
        var names = ["default"]
        var error: UnsafeMutablePointer<CChar>?
        var existingCount = 0
        if let list = rocksdb_list_column_families(options, path, &existingCount, &error), error == nil {
            for i in 0..<existingCount where !names.contains(String(cString: list[i]!)) {
                names.append(String(cString: list[i]!))
            }
            rocksdb_list_column_families_destroy(list, existingCount)
        } else if let list = rocksdb_list_column_families(options, path, &existingCount, &error) {
            // A missing database reports an error and an empty list: start with "default".
            rocksdb_list_column_families_destroy(list, existingCount)
        }
        if let e = error { rocksdb_free(e); error = nil }
        if !settings.readOnly {
            for name in requested where !names.contains(name) { names.append(name) }
        }

        var cNames = names.map { strdup($0) }
        defer { cNames.forEach { free($0) } }
        var cfOptions = [OpaquePointer?](repeating: options, count: names.count)
        cfOptions[0] = anchorOptions  // "default"
        var handles = [OpaquePointer?](repeating: nil, count: names.count)
        let opened: OpaquePointer? = cNames.withUnsafeMutableBufferPointer { namePointers in
            namePointers.withMemoryRebound(to: UnsafePointer<CChar>?.self) { constNames in
                if settings.readOnly {
                    return rocksdb_open_for_read_only_column_families(
                        options, path, Int32(names.count), constNames.baseAddress, &cfOptions, &handles, 0, &error)
                }
                return rocksdb_open_column_families(
                    options, path, Int32(names.count), constNames.baseAddress, &cfOptions, &handles, &error)
            }
        }
        if let error {
            let message = String(cString: error)
            rocksdb_free(error)
            Database.destroyOptions(options, tableOptions, cache, readOptions, syncWriteOptions, bufferedWriteOptions, unloggedWriteOptions, flushOptions, anchorOptions)
            throw StorageError.from(rocksMessage: message, path: path)
        }
        handle = opened!
        var families: [String: ColumnFamily] = [:]
        for (name, familyHandle) in zip(names, handles) {
            families[name] = ColumnFamily(name: name, handle: familyHandle!)
        }
        anchorFamily = handles[0]!
        state = Mutex(State(families: families))
    }

    private static func destroyOptions(_ pointers: OpaquePointer...) {
        rocksdb_options_destroy(pointers[0])
        rocksdb_block_based_options_destroy(pointers[1])
        rocksdb_cache_destroy(pointers[2])
        rocksdb_readoptions_destroy(pointers[3])
        rocksdb_writeoptions_destroy(pointers[4])
        rocksdb_writeoptions_destroy(pointers[5])
        rocksdb_writeoptions_destroy(pointers[6])
        rocksdb_flushoptions_destroy(pointers[7])
        rocksdb_options_destroy(pointers[8])
    }

    deinit {
        close()
    }

    /// Closes the database: column family handles first (RocksDB asserts on the reverse),
    /// then the database, then the options. Idempotent.
    public func close() {
        closing.store(true, ordering: .sequentiallyConsistent)
        // Calls in progress are short (a synced write, a flush at worst): wait them out.
        while callsInProgress.load(ordering: .sequentiallyConsistent) > 0 { usleep(100) }
        // Iterators belong to calls that end by themselves (or at their next database call,
        // now refused): wait for them too, but not forever, so a leaked one cannot stop
        // the close.
        let deadline = ContinuousClock.now + .seconds(10)
        while liveIterators.load(ordering: .sequentiallyConsistent) > 0 && ContinuousClock.now < deadline { usleep(100) }
        let toDestroy: [ColumnFamily]? = state.withLock { state in
            guard !state.closed else { return nil }
            state.closed = true
            let all = Array(state.families.values) + state.retired
            state.families = [:]
            state.retired = []
            return all
        }
        guard let toDestroy else { return }
        for family in toDestroy { rocksdb_column_family_handle_destroy(family.handle) }
        rocksdb_close(handle)
        Database.destroyOptions(options, tableOptions, cache, readOptions, syncWriteOptions, bufferedWriteOptions, unloggedWriteOptions, flushOptions, anchorOptions)
    }

    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Throws the RocksDB error `error` points at, if any, in words, and frees it.
    private func check(_ error: UnsafeMutablePointer<CChar>?, path: String? = nil) throws(StorageError) {
        guard let error else { return }
        let message = String(cString: error)
        rocksdb_free(error)
        throw StorageError.from(rocksMessage: message, path: path ?? self.path)
    }

    // MARK: - Column families

    /// The names of the open column families, sorted.
    public var familyNames: [String] { state.withLock { $0.families.keys.sorted() } }

    public func family(_ name: String) throws(StorageError) -> ColumnFamily {
        let found: ColumnFamily?? = state.withLock { state in
            state.closed ? nil : .some(state.families[name])
        }
        guard let open = found else { throw .closed }
        guard let family = open else { throw .unknownColumnFamily(name) }
        return family
    }

    /// Returns the named family, creating it if needed.
    public func createFamily(_ name: String) throws(StorageError) -> ColumnFamily {
        guard !isReadOnly else { throw .readOnly }
        return try state.withLock { (state: inout State) throws(StorageError) -> ColumnFamily in
            guard !state.closed else { throw .closed }
            if let existing = state.families[name] { return existing }
            var error: UnsafeMutablePointer<CChar>?
            let created = rocksdb_create_column_family(handle, options, name, &error)
            try check(error)
            let family = ColumnFamily(name: name, handle: created!)
            state.families[name] = family
            return family
        }
    }

    /// Drops a column family and its data. Its handle stays valid until close.
    public func dropFamily(_ family: ColumnFamily) throws(StorageError) {
        guard !isReadOnly else { throw .readOnly }
        try state.withLock { (state: inout State) throws(StorageError) in
            guard !state.closed else { throw .closed }
            guard state.families[family.name] === family else { return }
            var error: UnsafeMutablePointer<CChar>?
            rocksdb_drop_column_family(handle, family.handle, &error)
            try check(error)
            state.families[family.name] = nil
            state.retired.append(family)
        }
    }

    /// Runs `body`, which uses the database's handles, unless the database is closing.
    private func whileOpen<R>(_ body: () throws(StorageError) -> R) throws(StorageError) -> R {
        // Counted before `closing` is read, and `close()` sets `closing` before it reads the
        // count (both sequentially consistent): one of the two sees the other.
        callsInProgress.wrappingAdd(1, ordering: .sequentiallyConsistent)
        defer { callsInProgress.wrappingSubtract(1, ordering: .sequentiallyConsistent) }
        guard !closing.load(ordering: .sequentiallyConsistent) else { throw .closed }
        return try body()
    }

    // MARK: - Reads and writes

    /// The value stored under `key`, or nil.
    public func get(_ key: [UInt8], in family: ColumnFamily) throws(StorageError) -> [UInt8]? {
        try get(key, in: family, options: readOptions)
    }

    /// `get` with read options of the caller's (a snapshot's).
    func get(_ key: [UInt8], in family: ColumnFamily, options: OpaquePointer) throws(StorageError) -> [UInt8]? {
        try whileOpen { () throws(StorageError) -> [UInt8]? in
            var error: UnsafeMutablePointer<CChar>?
            var length = 0
            let value = key.withUnsafeBufferPointer { k in
                k.withMemoryRebound(to: CChar.self) { kc in
                    rocksdb_get_cf(handle, options, family.handle, kc.baseAddress, k.count, &length, &error)
                }
            }
            try check(error)
            guard let value else { return nil }
            defer { rocksdb_free(value) }
            return Array(UnsafeRawBufferPointer(start: value, count: length))
        }
    }

    /// Commits every operation of `batch` atomically. With `sync`, returns only after the
    /// write-ahead log is fsync'd, and everything written before is durable too.
    public func write(_ batch: WriteBatch, sync: Bool) throws(StorageError) {
        guard !isReadOnly else { throw .readOnly }
        try whileOpen { () throws(StorageError) in
            try anchorWriteAheadLog()
            var error: UnsafeMutablePointer<CChar>?
            rocksdb_write(handle, sync ? syncWriteOptions : bufferedWriteOptions, batch.handle, &error)
            try check(error)
        }
    }

    /// Rewrites the anchor row, without the log, so that a write to the log that fails for
    /// lack of space finds a memtable with something in it.
    ///
    /// A failed write leaves RocksDB's writer of that log file marked as failed, and only a
    /// new log file replaces it. `resume()` starts one only by flushing a memtable that holds
    /// rows; when the failed write was the first into a fresh log (where the disk runs out:
    /// each log file is given its space when made), every memtable was empty, the failed
    /// writer stayed, and the next write after recovery stopped the process on an assertion
    /// of Debian's RocksDB 7.8 build. A write switches memtables (and log files) before it
    /// lands, when an earlier write filled one or the log or memory budget is over: the
    /// first anchor write does the switches the logged write would have done, and the second
    /// the one the first may have called for by filling the anchor's own memtable, landing
    /// in the fresh one. Left open: a flush of every family (a backup's, the stop's) between
    /// these writes and the logged one.
    private func anchorWriteAheadLog() throws(StorageError) {
        for _ in 0..<2 {
            var error: UnsafeMutablePointer<CChar>?
            withUnsafeBytes(of: Self.anchorKey) { key in
                key.withMemoryRebound(to: CChar.self) {
                    rocksdb_put_cf(handle, unloggedWriteOptions, anchorFamily, $0.baseAddress, $0.count, nil, 0, &error)
                }
            }
            try check(error)
        }
    }

    /// The one row of the "default" family.
    private static let anchorKey: UInt8 = 0

    /// Takes writes again after RocksDB stopped taking them on a failed write (the disk filled
    /// up under it); throws while it still cannot write. Does nothing when nothing failed.
    public func resume() throws(StorageError) {
        guard !isReadOnly else { throw .readOnly }
        try whileOpen { () throws(StorageError) in
            var error: UnsafeMutablePointer<CChar>?
            chatflow_rocksdb_resume(handle, &error)
            try check(error)
        }
    }

    /// Commits `batch` atomically without the write-ahead log: a crash loses its rows until
    /// `flush(_:)` has put their families' memtables in table files. For rows that can be
    /// made again and that nothing refers to before they are flushed (a rebuild's new
    /// generation, which goes live only afterwards); it spares writing them twice.
    public func writeWithoutLog(_ batch: WriteBatch) throws(StorageError) {
        guard !isReadOnly else { throw .readOnly }
        try whileOpen { () throws(StorageError) in
            var error: UnsafeMutablePointer<CChar>?
            rocksdb_write(handle, unloggedWriteOptions, batch.handle, &error)
            try check(error)
        }
    }

    /// Writes the memtables of `families` to table files and waits for it: every row
    /// written to them so far is durable, including those written without the log.
    public func flush(_ families: [ColumnFamily]) throws(StorageError) {
        guard !isReadOnly else { throw .readOnly }
        try whileOpen { () throws(StorageError) in
            for family in families {
                var error: UnsafeMutablePointer<CChar>?
                rocksdb_flush_cf(handle, flushOptions, family.handle, &error)
                try check(error)
            }
        }
    }

    /// Writes every column family's memtable to table files, so that the next open has no
    /// write-ahead log to replay.
    public func flushAll() throws(StorageError) {
        let families = state.withLock { Array($0.families.values) }
        try flush(families)
    }

    /// Makes every write so far durable: one fsync of the write-ahead log. Writes made with
    /// `sync: false` before this call are durable when it returns; writes may run concurrently.
    public func syncWAL() throws(StorageError) {
        guard !isReadOnly else { throw .readOnly }
        try whileOpen { () throws(StorageError) in
            var error: UnsafeMutablePointer<CChar>?
            rocksdb_flush_wal(handle, 1, &error)
            try check(error)
        }
    }

    /// An iterator over `family`, limited to `[lower, upper)` when given.
    /// Scans that read many rows once (rebuild, verify) pass `fillCache: false`.
    /// Once the database is closing, the iterator is empty and `checkError` says it closed.
    /// `includingRangeDeleted`: also the rows a range delete covers that compaction has not
    /// dropped yet (reading every block of a family, not only those still live).
    public func makeIterator(over family: ColumnFamily, lower: [UInt8]? = nil, upper: [UInt8]? = nil, fillCache: Bool = true, includingRangeDeleted: Bool = false) -> KeyValueIterator {
        makeIterator(over: family, lower: lower, upper: upper, fillCache: fillCache, snapshot: nil, includingRangeDeleted: includingRangeDeleted)
    }

    func makeIterator(over family: ColumnFamily, lower: [UInt8]?, upper: [UInt8]?, fillCache: Bool = true, snapshot: DatabaseSnapshot?, includingRangeDeleted: Bool = false) -> KeyValueIterator {
        // Counted before `closing` is read, as in `whileOpen`: `close()` sees one or the other.
        liveIterators.wrappingAdd(1, ordering: .sequentiallyConsistent)
        let open = !closing.load(ordering: .sequentiallyConsistent)
        return KeyValueIterator(
            database: self, dbHandle: open ? handle : nil, family: family, lower: lower, upper: upper, fillCache: fillCache, snapshot: snapshot,
            includingRangeDeleted: includingRangeDeleted)
    }

    /// A snapshot to read several rows as of one moment (`DatabaseSnapshot`).
    public func snapshot() -> DatabaseSnapshot {
        liveIterators.wrappingAdd(1, ordering: .sequentiallyConsistent)
        let open = !closing.load(ordering: .sequentiallyConsistent)
        return DatabaseSnapshot(database: self, dbHandle: open ? handle : nil)
    }

    /// Called by an iterator once it is destroyed (or was never made).
    func iteratorEnded() {
        liveIterators.wrappingSubtract(1, ordering: .sequentiallyConsistent)
    }

    // MARK: - Maintenance

    /// A consistent on-disk copy (hard links where possible) at `directory`, which must not exist.
    public func checkpoint(to directory: String) throws(StorageError) {
        try whileOpen { () throws(StorageError) in
            var error: UnsafeMutablePointer<CChar>?
            let checkpoint = rocksdb_checkpoint_object_create(handle, &error)
            try check(error)
            defer { rocksdb_checkpoint_object_destroy(checkpoint) }
            // Flushing the memtables first keeps the checkpoint free of WAL replay work.
            rocksdb_checkpoint_create(checkpoint, directory, 0, &error)
            try check(error, path: directory)
        }
    }

    /// A RocksDB property such as `rocksdb.estimate-num-keys`, as text.
    public func property(_ name: String, in family: ColumnFamily? = nil) -> String? {
        try? whileOpen { () throws(StorageError) -> String? in
            let value: UnsafeMutablePointer<CChar>? = if let family {
                rocksdb_property_value_cf(handle, family.handle, name)
            } else {
                rocksdb_property_value(handle, name)
            }
            guard let value else { return nil }
            defer { rocksdb_free(value) }
            return String(cString: value)
        }
    }

    /// A numeric RocksDB property, such as `rocksdb.estimate-num-keys`.
    public func integerProperty(_ name: String, in family: ColumnFamily) -> UInt64? {
        try? whileOpen { () throws(StorageError) -> UInt64? in
            var value: UInt64 = 0
            return rocksdb_property_int_cf(handle, family.handle, name, &value) == 0 ? value : nil
        }
    }
}
