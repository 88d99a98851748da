/// A client-chosen key that makes a retried append return the first result instead of
/// appending again. Keys are scoped: the same key from two users is two keys.
///
/// A key may carry a fingerprint of what the request asked for. A retry asks for the same
/// thing; a key reused for something else (a client that restarts its counter of message
/// ids) is told so instead of being handed the first result as if its new request had
/// been carried out.
public struct IdempotencyKey: Hashable, Sendable {
    /// Who the key belongs to (a user id); must not contain NUL.
    public let scope: String
    /// The client's key; must not contain NUL.
    public let key: String
    /// A digest of the request the key was sent with; not part of the key's identity.
    public let fingerprint: UInt64?
    /// Scopes whose records are kept apart from this one's but share its keys: the same key
    /// found in one of them was used for another kind of request, so this one is a reuse.
    /// Not part of the key's identity.
    public let siblingScopes: [String]

    /// `request`: the parts of the request that a retry repeats, in a fixed order.
    public init(scope: String, key: String, request: [UInt8]? = nil, siblingScopes: [String] = []) {
        precondition(!scope.utf8.contains(0) && !key.utf8.contains(0), "idempotency keys must not contain NUL")
        self.scope = scope
        self.key = key
        fingerprint = request.map(Self.digest)
        self.siblingScopes = siblingScopes
    }

    /// The same key in each sibling scope.
    var siblings: [IdempotencyKey] {
        siblingScopes.map { IdempotencyKey(scope: $0, key: key) }
    }

    /// By bytes, as the stored record's key is: Swift's `==` on strings takes "é" and "e"
    /// with a combining accent for one, so two such keys in one commit were one key there
    /// and two on disk (the second's retry then posted again).
    public static func == (lhs: IdempotencyKey, rhs: IdempotencyKey) -> Bool {
        lhs.scope.utf8.elementsEqual(rhs.scope.utf8) && lhs.key.utf8.elementsEqual(rhs.key.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        for byte in scope.utf8 { hasher.combine(byte) }
        hasher.combine(0 as UInt8)
        for byte in key.utf8 { hasher.combine(byte) }
    }

    /// FNV-1a, 64 bits: stored with the key, so it must not change between runs (Swift's
    /// `Hasher` is seeded per process). It tells a retry from a reuse, nothing more.
    static func digest(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01b3 }
    }
}
