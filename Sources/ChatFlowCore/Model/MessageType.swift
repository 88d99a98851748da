/// What a message's content is. The raw value is the JSON spelling (`messageType`).
public enum MessageType: String, Sendable, CaseIterable {
    case text
    case image
    case file

    /// The byte stored in the event log. Stable forever: never renumber, only add.
    public var code: UInt8 {
        switch self {
        case .text: 1
        case .image: 2
        case .file: 3
        }
    }

    public init?(code: UInt8) {
        switch code {
        case 1: self = .text
        case 2: self = .image
        case 3: self = .file
        default: return nil
        }
    }
}
