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

    public init(readOnly: Bool = false, createIfMissing: Bool = true) {
        self.readOnly = readOnly
        self.createIfMissing = createIfMissing
    }
}
