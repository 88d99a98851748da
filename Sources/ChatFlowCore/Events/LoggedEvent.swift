import ChatFlowStorage

/// An event as read back from the log: its envelope plus the id it was committed under.
public struct LoggedEvent: Equatable, Sendable {
    /// The log position; also the new chat's id for `chatCreated` and the new message's id
    /// for `messagePosted`.
    public let id: ULID
    public let actor: UserID
    public let event: ChangeEvent

    public init(id: ULID, actor: UserID, event: ChangeEvent) {
        self.id = id
        self.actor = actor
        self.event = event
    }

    public init(id: ULID, envelope: EventEnvelope) {
        self.init(id: id, actor: envelope.actor, event: envelope.event)
    }

    /// The server time of the event: milliseconds since the Unix epoch, from the id.
    public var timeMilliseconds: UInt64 { id.timestamp }

    public var envelope: EventEnvelope { EventEnvelope(actor: actor, event: event) }
}
