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

    /// The event a log record holds. Bytes this build cannot read are a log damaged or
    /// written by a newer version: an error that names the event, as the data directory's
    /// other damage is named (commands exit 74 on it, `serve` stops).
    public init(_ record: LogRecord) throws(StorageError) {
        do {
            self.init(id: record.id, envelope: try EventCodec.decode(record.payload))
        } catch {
            throw .malformed("event \(record.id) of the change log cannot be read by this version of chatflow (\(error)): "
                + "a newer version wrote it, or the log is damaged; run the version that wrote it, or restore from a backup")
        }
    }

    /// The server time of the event: milliseconds since the Unix epoch, from the id.
    public var timeMilliseconds: UInt64 { id.timestamp }

    public var envelope: EventEnvelope { EventEnvelope(actor: actor, event: event) }
}
