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
}

extension Projection {
    public var name: String { Self.name }
    public var version: Int { Self.version }
}
