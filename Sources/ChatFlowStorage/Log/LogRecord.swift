/// One committed entry of the change log: its position and its encoded event.
public struct LogRecord: Equatable, Sendable {
    public let id: ULID
    public let payload: [UInt8]

    public init(id: ULID, payload: [UInt8]) {
        self.id = id
        self.payload = payload
    }
}
