import ChatFlowStorage

/// A read model derived from the change log: a pure function of the events, applied one
/// at a time, in log order. A projection owns one column family and nothing else.
///
/// Bumping `version` means "my rows changed shape": the store builds a fresh generation
/// from the log on the next start.
public protocol Projection: Sendable {
    static var name: String { get }
    static var version: Int { get }

    /// Applies one event. Reads through `rows` see the rows written earlier in the same
    /// batch, so a batch of events produces exactly what applying them one by one would.
    func apply(_ event: LoggedEvent, to rows: ProjectionRows) throws

    /// Retention: removes every row of messages older than `context.horizon`. Must be
    /// idempotent, and must leave exactly what applying the shortened log (seeded by
    /// `seed`) and then pruning again would leave, so that `verify` holds afterwards.
    func prune(_ context: PruneContext) throws

    /// Rows a rebuild starts from when the log has been shortened by retention.
    func seed(_ retention: RetentionState, rows: ProjectionRows) throws
}

extension Projection {
    /// Projections without message rows have nothing to prune.
    public func prune(_ context: PruneContext) throws {}

    public func seed(_ retention: RetentionState, rows: ProjectionRows) throws {}
}

extension Projection {
    public var name: String { Self.name }
    public var version: Int { Self.version }
}
