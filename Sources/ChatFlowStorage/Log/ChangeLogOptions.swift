/// Settings of a `RocksDBChangeLog`.
public struct ChangeLogOptions: Sendable {
    /// How long an idempotency key is remembered, in milliseconds (24 h).
    public var idempotencyWindowMilliseconds: UInt64 = 24 * 3600 * 1000
    /// Most appends folded into one group commit; more wait for the next one.
    public var maxGroupSize = 4096
    /// How long the writer may wait for callers it just resumed to append again, so that
    /// one fsync serves them all. Only spent when the previous commit served several callers.
    public var gatherMicroseconds = 200
    /// The clock that stamps ids, in Unix milliseconds.
    public var clock: ULIDGenerator.Clock = ULIDGenerator.wallClockMilliseconds
    /// The random source for new ids.
    public var random: ULIDGenerator.Random = ULIDGenerator.systemRandom
    /// Refuses appends while the disk is nearly full (nil: no check).
    public var diskGuard: DiskSpaceGuard?
    /// Told when a write of the store failed for lack of space (true: it takes none until it
    /// has room), and when it takes writes again (false).
    public var onWaitingForSpace: (@Sendable (Bool) -> Void)?
    /// Called on the writer thread after every group commit, once its callers are resumed
    /// (for metrics).
    public var onCommit: (@Sendable (GroupCommitStatistics) -> Void)?
    /// Called on the writer thread as it stops, before `close()` returns: a log whose
    /// owner failed to open must not leave its thread behind.
    public var onWriterStopped: (@Sendable () -> Void)?

    public init() {}
}

/// What one group commit did, and where the writer's time went: its cycle is the gather,
/// the prepare, the write and the resume, one after another.
public struct GroupCommitStatistics: Sendable {
    /// Append calls served by the commit (including idempotent replays).
    public let appends: Int
    /// Events written.
    public let events: Int
    /// Time spent writing and syncing the batch, in nanoseconds.
    public let writeNanoseconds: UInt64
    /// Time from the end of the previous commit until this group was taken, idle time
    /// included (0 for the first group). With closed-loop callers this is their round trip:
    /// they cannot append again before the previous commit resumed them.
    public let gatherNanoseconds: UInt64
    /// Assigning ids and building the batch.
    public let prepareNanoseconds: UInt64
    /// Resuming the callers once the batch is durable.
    public let resumeNanoseconds: UInt64
}
