import ChatFlowStorage
import Foundation

/// An opaque page cursor: base64url of `version(1) ‖ kind(1) ‖ scope(16) ‖ position`.
/// The scope (a chat id, or zero) binds the cursor to the list it came from, so a cursor
/// from one chat is refused for another. A cursor may also be an RFC 3339 time or a date,
/// to jump to that moment in a time-ordered list.
public struct PageCursor: Equatable, Sendable {
    public enum Kind: UInt8, Sendable {
        case messagesOlder = 1, messagesNewer = 2, search = 3, members = 4, userMessages = 5, publicChats = 6, myChats = 7
    }

    /// Where the next page starts.
    public enum Position: Equatable, Sendable {
        /// Continue past this message id (exclusive), from a previous page.
        case message(ULID)
        /// Continue past this member, from a previous page.
        case member(UserID)
        /// Jump to a time, in Unix milliseconds.
        case time(UInt64)
    }

    public let kind: Kind
    public let scope: ULID
    public let position: Position

    static let version: UInt8 = 1

    init(kind: Kind, scope: ULID, position: Position) {
        self.kind = kind
        self.scope = scope
        self.position = position
    }

    public var encoded: String {
        var bytes: [UInt8] = [Self.version, kind.rawValue]
        bytes += scope.bytes
        switch position {
        case .message(let id): bytes += id.bytes
        case .member(let user): bytes += Array(user.rawValue.utf8)
        case .time(let ms): bytes += KeyWriter.build { $0.uint64(ms) }
        }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Decodes `text` for a list of `kind` scoped to `scope`; a time is accepted where
    /// `allowTime` says the list is time-ordered.
    public static func decode(_ text: String, kind: Kind, scope: ULID, allowTime: Bool) throws(ChatFlowError) -> PageCursor {
        if let first = text.utf8.first, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first), text.contains("-") {
            guard allowTime else {
                throw .invalid("this list is not ordered by time, so its cursor cannot be a time; pass back nextCursor unchanged")
            }
            do {
                return PageCursor(kind: kind, scope: scope, position: .time(try RFC3339.milliseconds(text)))
            } catch {
                let hint = error.reason == RFC3339.expectedForm ? error.reason : "\(error.reason); \(RFC3339.expectedForm)"
                throw .invalid("cursor looks like a time but is not one: \(hint)")
            }
        }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64), data.count >= 18, data[0] == version,
              let decodedKind = Kind(rawValue: data[1]), let decodedScope = ULID(bytes: Array(data[2..<18]))
        else { throw .invalid("cursor is not one this server issued; pass back nextCursor unchanged") }
        guard decodedKind == kind, decodedScope == scope else {
            throw .invalid("cursor belongs to a different list; a cursor only continues the list that returned it")
        }
        let rest = Array(data[18...])
        let position: Position
        switch kind {
        case .members:
            guard let user = try? UserID(validating: String(decoding: rest, as: UTF8.self)) else {
                throw .invalid("cursor is damaged")
            }
            position = .member(user)
        default:
            guard let id = ULID(bytes: rest) else { throw .invalid("cursor is damaged") }
            position = .message(id)
        }
        return PageCursor(kind: kind, scope: scope, position: position)
    }
}
