/// What an append returns once its events are durable.
public struct AppendResult: Equatable, Sendable {
    /// The log positions of the appended events, in the order given.
    public let ids: [ULID]
    /// True when the idempotency key had been seen: `ids` are the original append's and
    /// nothing new was written.
    public let isReplay: Bool
    /// True for a replay whose key came with a request other than the first one's (their
    /// fingerprints differ): the key was reused, not retried. `ids` are empty when the
    /// first request was of another kind (its key in a sibling scope).
    public let isReusedKey: Bool

    public init(ids: [ULID], isReplay: Bool, isReusedKey: Bool = false) {
        self.ids = ids
        self.isReplay = isReplay
        self.isReusedKey = isReusedKey
    }
}
