/// A client-chosen key that makes a retried append return the first result instead of
/// appending again. Keys are scoped: the same key from two users is two keys.
public struct IdempotencyKey: Hashable, Sendable {
    /// Who the key belongs to (a user id); must not contain NUL.
    public let scope: String
    /// The client's key; must not contain NUL.
    public let key: String

    public init(scope: String, key: String) {
        precondition(!scope.utf8.contains(0) && !key.utf8.contains(0), "idempotency keys must not contain NUL")
        self.scope = scope
        self.key = key
    }
}
