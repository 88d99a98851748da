/// What an append returns once its events are durable.
public struct AppendResult: Equatable, Sendable {
    /// The log positions of the appended events, in the order given.
    public let ids: [ULID]
    /// True when the idempotency key had been seen: `ids` are the original append's and
    /// nothing new was written.
    public let isReplay: Bool

    public init(ids: [ULID], isReplay: Bool) {
        self.ids = ids
        self.isReplay = isReplay
    }
}
