/// What a command appends to the log: who did what.
///
/// There is no time field. The log assigns the event's id at commit, and the id's
/// millisecond timestamp is the event's server time, so time order and log order agree.
public struct EventEnvelope: Equatable, Sendable {
    public var actor: UserID
    public var event: ChangeEvent

    public init(actor: UserID, event: ChangeEvent) {
        self.actor = actor
        self.event = event
    }
}
