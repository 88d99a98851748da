/// The one error the chat domain throws.
///
/// Each case carries a sentence a person can act on; the server maps the case to an HTTP
/// status in one place (`.invalid` → 400, `.forbidden` → 403, `.notFound` → 404,
/// `.conflict` → 409, `.unavailable` → 503) and uses the sentence as the problem detail.
public enum ChatFlowError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The request is malformed or breaks a limit.
    case invalid(String)
    /// The chat, message or member does not exist, or the caller may not know it does.
    case notFound(String)
    /// The caller is known but not allowed to do this.
    case forbidden(String)
    /// The request contradicts the current state.
    case conflict(String)
    /// The service cannot answer right now (for example, projections are still catching up).
    case unavailable(String)

    public var description: String {
        switch self {
        case .invalid(let reason): "invalid: \(reason)"
        case .notFound(let what): "not found: \(what)"
        case .forbidden(let reason): "forbidden: \(reason)"
        case .conflict(let reason): "conflict: \(reason)"
        case .unavailable(let reason): "unavailable: \(reason)"
        }
    }

    /// The sentence without the category, for a problem detail.
    public var detail: String {
        switch self {
        case .invalid(let text), .notFound(let text), .forbidden(let text),
             .conflict(let text), .unavailable(let text):
            text
        }
    }
}
