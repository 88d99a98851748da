/// How a `Database` is opened.
public struct DatabaseOptions: Sendable {
    /// Open without the write lock: many readers may share a directory with one writer.
    public var readOnly = false
    /// Create the directory (and its parents) and the database when missing.
    public var createIfMissing = true
    /// Shared block cache for every column family, in bytes.
    public var blockCacheBytes = 256 << 20
    /// Memtable size per column family, in bytes.
    public var writeBufferBytes = 64 << 20
    /// Background compaction and flush threads.
    public var backgroundJobs: Int32 = 2
    /// All column families' memtables together, in bytes: past it the oldest is flushed.
    /// Each family alone would allow two full memtables, over ten families.
    public var memtableBudgetBytes = 256 << 20
    /// The write-ahead log files together, in bytes: past it, the families that keep the
    /// oldest file alive are flushed, so it can go. Lightly written families (chats,
    /// reactions) otherwise kept gigabytes of log, all replayed after a crash.
    public var writeAheadLogBudgetBytes: UInt64 = 256 << 20
    /// Table files RocksDB keeps open at most (-1: every one, which grows with the data
    /// until the process runs out of descriptors and RocksDB fails its writes for good).
    public var maxOpenFiles: Int32 = -1
    /// Where RocksDB's own messages go.
    public var diagnostics = DatabaseDiagnostics.standardError

    public init(readOnly: Bool = false, createIfMissing: Bool = true) {
        self.readOnly = readOnly
        self.createIfMissing = createIfMissing
    }

    /// For replaying the whole log into fresh projections (`rebuild`, `verify`): smaller
    /// memtables than serving uses, as a shallower skip list takes millions of rows faster
    /// while flushes run on another core (200k events: 15.3k–16.2k → 18.9k–19.5k events/s).
    /// The data is replayed, so it must already be there: a mistyped path is refused.
    public static var replay: DatabaseOptions {
        var options = DatabaseOptions.existing
        options.writeBufferBytes = 8 << 20
        return options
    }

    /// For commands that work on data `serve` made (backup, project): a missing database is
    /// an error, never an empty one made on the spot.
    public static var existing: DatabaseOptions {
        DatabaseOptions(createIfMissing: false)
    }
}
