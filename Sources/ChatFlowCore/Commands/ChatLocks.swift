import Synchronization

/// One readers-writer lock per chat, held by a command from its checks until the
/// projections have applied its events.
///
/// A command checks who may do what against the projections, then appends. Without a lock,
/// a command checked before another one's events were applied can append after them: a
/// member removed while their request was in flight could still add someone to the private
/// chat, post, or edit a message that was deleted meanwhile. Commands that change who may
/// do what (membership, roles, chat settings, deleting a message) take their chat's lock
/// alone; the rest (posting, editing, reacting, read markers) share it, so a busy chat's
/// posts still group-commit together. Waiters are served in arrival order, so a removal is
/// never starved by a stream of posts.
///
/// Sharing the chat's lock, a command that changes what is the user's own (their reaction,
/// their read marker, their message's text) and logs nothing when it is already so also
/// holds the user's place in the chat alone: two of the same user's removals of one
/// reaction, sent at once, would otherwise both see it there and both log its removal.
///
/// The locks live in one process: a deployment with several writers to one log would need
/// the log to check these conditions at commit time instead.
final class ChatLocks: Sendable {
    enum Mode {
        case shared
        case exclusive
    }

    private struct Waiter {
        let mode: Mode
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct Entry {
        var readers = 0
        var writer = false
        var waiting: [Waiter] = []

        func admits(_ mode: Mode) -> Bool {
            switch mode {
            case .shared: !writer
            case .exclusive: !writer && readers == 0
            }
        }

        mutating func take(_ mode: Mode) {
            switch mode {
            case .shared: readers += 1
            case .exclusive: writer = true
            }
        }

        var isIdle: Bool { readers == 0 && !writer && waiting.isEmpty }
    }

    /// What a lock is held on: a chat, or a user's place in one.
    private enum Key: Hashable {
        case chat(ChatID)
        case member(ChatID, UserID)
    }

    private let entries = Mutex<[Key: Entry]>([:])

    /// Runs `body` holding `chat`'s lock in `mode`; sharing it with `user` given, also
    /// holding that user's place in the chat alone. The place is taken first: the user's
    /// requests queued behind each other do not hold the chat's lock meanwhile (a removal
    /// waiting for it would wait for all of them), and nothing holding the chat's lock ever
    /// waits for a place, so the two cannot wait on each other.
    func withLock<R>(_ chat: ChatID, _ mode: Mode, by user: UserID? = nil, _ body: () async throws -> R) async throws -> R {
        guard mode == .shared, let user else {
            await acquire(.chat(chat), mode)
            defer { release(.chat(chat), mode) }
            return try await body()
        }
        await acquire(.member(chat, user), .exclusive)
        defer { release(.member(chat, user), .exclusive) }
        await acquire(.chat(chat), mode)
        defer { release(.chat(chat), mode) }
        return try await body()
    }

    /// Chats and places with a lock held or awaited (idle ones are forgotten).
    var count: Int { entries.withLock { $0.count } }

    /// How many wait for `chat`'s lock.
    func waiting(in chat: ChatID) -> Int {
        entries.withLock { $0[.chat(chat)]?.waiting.count ?? 0 }
    }

    /// How many wait for `user`'s place in `chat`.
    func waiting(in chat: ChatID, by user: UserID) -> Int {
        entries.withLock { $0[.member(chat, user)]?.waiting.count ?? 0 }
    }

    private func acquire(_ chat: Key, _ mode: Mode) async {
        // Not cancellable: a waiter waits only for commands already running in its chat.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = entries.withLock { entries in
                var entry = entries[chat] ?? Entry()
                defer { entries[chat] = entry }
                // Nobody overtakes a waiter, or a writer could wait forever behind readers.
                if entry.waiting.isEmpty && entry.admits(mode) {
                    entry.take(mode)
                    return true
                }
                entry.waiting.append(Waiter(mode: mode, continuation: continuation))
                return false
            }
            if granted { continuation.resume() }
        }
    }

    private func release(_ chat: Key, _ mode: Mode) {
        let woken = entries.withLock { entries -> [Waiter] in
            guard var entry = entries[chat] else { return [] }
            switch mode {
            case .shared: entry.readers -= 1
            case .exclusive: entry.writer = false
            }
            var woken: [Waiter] = []
            while let next = entry.waiting.first, entry.admits(next.mode) {
                entry.take(next.mode)
                woken.append(entry.waiting.removeFirst())
            }
            entries[chat] = entry.isIdle ? nil : entry
            return woken
        }
        for waiter in woken { waiter.continuation.resume() }
    }
}
