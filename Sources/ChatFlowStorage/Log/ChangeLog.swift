/// The ordered, durable change log: the one source of truth.
///
/// The interface is small on purpose: append, read after a position, the last position,
/// and waiting for a commit. A replicated log engine can stand behind it without anything
/// above this layer changing.
public protocol ChangeLog: Sendable {
    /// Appends `payloads` as consecutive events and returns once they are durable.
    /// With an idempotency key already seen within the retention window, returns the first
    /// append's ids and writes nothing. No payloads with a key records the key alone (a
    /// write that changed nothing), so that it answers retries and reuses as any other.
    func append(_ payloads: [[UInt8]], idempotencyKey: IdempotencyKey?) async throws -> AppendResult

    /// Up to `limit` records with ids greater than `position` (all, from the start, when nil), in order.
    func read(after position: ULID?, limit: Int) throws -> [LogRecord]

    /// The id of the newest committed record, or nil when the log is empty.
    var lastPosition: ULID? { get }

    /// Returns once a record after `position` is committed, or at once if one already is.
    /// Returns early, without a new record, if the task is cancelled or the log closes.
    func waitForCommit(after position: ULID?) async
}

extension ChangeLog {
    public func append(_ payload: [UInt8], idempotencyKey: IdempotencyKey? = nil) async throws -> AppendResult {
        try await append([payload], idempotencyKey: idempotencyKey)
    }

    /// Every record after `position`, then each new one as it commits, without polling.
    public func tail(after position: ULID?, batchSize: Int = 1024) -> LogTail<Self> {
        LogTail(log: self, position: position, batchSize: batchSize)
    }
}
