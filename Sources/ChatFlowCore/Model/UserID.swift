/// A user's id: the `sub` claim of their token, 1–64 characters of `A-Za-z0-9_.-`.
///
/// The alphabet is ASCII, so the id's UTF-8 bytes, its `String` order and its character
/// count all agree, and it can be written into storage keys as it is.
public struct UserID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public static let maxLength = 64

    /// Accepts only a well-formed id; the error names the rule and what broke it.
    public init(validating text: String) throws(ChatFlowError) {
        let utf8 = text.utf8
        guard (1...UserID.maxLength).contains(utf8.count) else {
            throw .invalid("user id must be 1–\(UserID.maxLength) characters of A-Z, a-z, 0-9, '_', '.' or '-' (got \(text.count))")
        }
        if let bad = utf8.firstIndex(where: { !UserID.isAllowed($0) }) {
            let position = utf8.distance(from: utf8.startIndex, to: bad) + 1
            throw .invalid("user id may contain only A-Z, a-z, 0-9, '_', '.' or '-' (found a disallowed character at position \(position))")
        }
        // In a URL path they name the segment's own directory or its parent: clients resolve
        // them away, so such a user could never be named in a path.
        guard text != "." && text != ".." else {
            throw .invalid("user id cannot be '.' or '..', which URL paths resolve away")
        }
        self.rawValue = text
    }

    /// Wraps text that was validated before it was stored, such as an event's actor read
    /// back from the log. Skips the check because replay decodes millions of these.
    public init(unchecked text: String) {
        self.rawValue = text
    }

    public var description: String { rawValue }

    public static func < (lhs: UserID, rhs: UserID) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}
