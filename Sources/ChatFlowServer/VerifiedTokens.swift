import ChatFlowCore
import Foundation
import Synchronization

/// Tokens that passed every check of `TokenVerifier`, with what they carry, so that a
/// client's next request costs a lookup instead of a JSON decode and an HMAC (at a few
/// thousand requests per second that was ~5% of the server's CPU). Only what cannot change
/// is remembered: `exp` and `nbf` are checked again on every use, so a remembered token
/// expires exactly when it would otherwise. Bounded: emptied when full.
final class VerifiedTokens: Sendable {
    struct Entry: Sendable {
        let user: UserID
        let expires: Date
        let notBefore: Date?
    }

    static let capacity = 10_000
    private let entries = Mutex<[String: Entry]>([:])

    func lookup(_ token: String) -> Entry? {
        entries.withLock { $0[token] }
    }

    func remember(_ token: String, _ entry: Entry) {
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[token] = entry
        }
    }
}
