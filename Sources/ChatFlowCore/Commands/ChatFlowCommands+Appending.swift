import ChatFlowStorage

/// Appending a command's events, and answering a retry of one (`Idempotency-Key`) from
/// what the first attempt committed.
extension ChatFlowCommands {
    /// A client's idempotency key, checked: 1–128 code points (as the OpenAPI document's
    /// `maxLength` counts, and so at most 512 bytes however it is spelled), no NUL.
    /// `request` lists what a retry repeats, so that a key reused for another request is
    /// told from a retry.
    static func clientKey(_ key: String, field: String, user: UserID, scope: KeyScope, request: [String]) throws -> IdempotencyKey {
        guard (1...128).contains(key.unicodeScalars.count) else {
            throw ChatFlowError.invalid("\(field) must be 1–128 code points")
        }
        guard !key.utf8.contains(0) else { throw ChatFlowError.invalid("\(field) must not hold U+0000 (NUL)") }
        // Each part is followed by a NUL (which validated text cannot hold), so parts never
        // run into each other; text is compared as Swift compares it, by canonical
        // equivalence, so a retry spelling an accent in decomposed form is still a retry.
        return IdempotencyKey(
            scope: scope.name(for: user), key: key, request: request.flatMap { Array(composed($0).utf8) + [0] },
            siblingScopes: KeyScope.allCases.filter { $0 != scope }.map { $0.name(for: user) })
    }

    /// `text` in its canonical composed form (NFC). ASCII is its own: most messages are,
    /// and Foundation's normalization goes through a bridged string (a post's costliest
    /// step in profiles).
    private static func composed(_ text: String) -> String {
        text.utf8.allSatisfy { $0 < 0x80 } ? text : text.precomposedStringWithCanonicalMapping
    }

    /// The `Idempotency-Key` of a write other than creating a chat or posting: one scope for
    /// all of them, so a key sent again with another request is told apart (409).
    func writeKey(_ key: String?, _ user: UserID, _ request: [String]) throws -> IdempotencyKey? {
        try key.map { try Self.clientKey($0, field: "Idempotency-Key", user: user, scope: .writes, request: request) }
    }

    /// A retry of a write committed before with the same key: the original event ids, once
    /// the projections have them (nil for a new key). The caller answers from the state as it
    /// stands and appends nothing, whatever has changed since, as the first answer did.
    ///
    /// Commands ask before taking their chat's lock and again under it: a retry sent while
    /// its original was still being answered finds no key at first, then waits for the lock
    /// the original holds until it has committed its key and its projections have applied
    /// it. Checked only against that state, the retry would be refused for what the
    /// original did (a member removed twice is no longer a member).
    func retried(_ key: IdempotencyKey?) async throws -> [ULID]? {
        guard let key, let original = try log.rememberedResult(for: key) else { return nil }
        guard !original.isReusedKey else { throw Self.reusedKey(key) }
        if let last = original.ids.last { try await projector.waitUntilApplied(last, cancellable: false) }
        return original.ids
    }

    /// Records `key` for a write that changed nothing (already a member, already reacted,
    /// the same text again): a retry then answers as this request did, even after later
    /// writes, and the key sent with another request is a 409, as for a write that appended.
    /// Returns whether the key was recorded already, by the same request: a retry that
    /// came while the first was still being answered (it passed `retried` before the first
    /// committed), to be marked as replayed all the same.
    @discardableResult
    func remember(_ key: IdempotencyKey?) async throws -> Bool {
        guard let key else { return false }
        let result = try await log.append([], idempotencyKey: key)
        if result.isReusedKey { throw Self.reusedKey(key) }
        return result.isReplay
    }

    static func reusedKey(_ key: IdempotencyKey) -> ChatFlowError {
        .conflict("Idempotency-Key \(key.key) was already used for a different request; send a new key for a new request")
    }

    /// A membership as a retried join or add answers it: as it is, or as the event made it.
    func membership(_ user: UserID, of chat: ChatID, from original: [ULID], by caller: UserID) throws -> MemberView {
        // Only while the caller may still see the chat: a private one they have left is gone.
        _ = try readable(chat, by: caller)
        if let member = try reader.member(user, of: chat) { return member }
        // A join or add that changed nothing (already a member) logged no event to tell when.
        guard let joined = original.first else { throw ChatFlowError.notFound("\(user) is no longer a member of chat \(chat)") }
        return MemberView(chatId: chat.description, userId: user.rawValue, role: MemberRole.member.rawValue, joinedAt: RFC3339.format(milliseconds: joined.timestamp))
    }

    /// `append` for a write keyed by `writeKey`: a key used meanwhile for another request is a
    /// 409. Returns whether the same request committed it first (see `remember`).
    @discardableResult
    func write(_ actor: UserID, _ event: ChangeEvent, key: IdempotencyKey?) async throws -> Bool {
        let result = try await append(actor, event, key: key)
        if result.isReusedKey, let key { throw Self.reusedKey(key) }
        return result.isReplay
    }

    @discardableResult
    func append(_ actor: UserID, _ event: ChangeEvent, key: IdempotencyKey? = nil) async throws -> AppendResult {
        // Once the projector has stopped nothing more is applied: a write would be committed
        // unseen, and the next ones would be checked against projections that stay behind.
        guard !projector.applied.isClosed else { throw ChatFlowError.unavailable("the server is stopping; retry in a moment") }
        let result = try await log.append([EventCodec.encode(EventEnvelope(actor: actor, event: event))], idempotencyKey: key)
        // Not cut short by the caller's cancellation: the chat's lock is held until the
        // projections have the event, or the next command could check without it.
        // No ids: the key was used for another kind of request, and nothing was written.
        guard let last = result.ids.last else { return result }
        try await projector.waitUntilApplied(last, cancellable: false)
        return result
    }
}
