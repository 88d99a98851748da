import Synchronization

/// A published log position that tasks can wait on: "wake me once the position passes X".
/// Waiters are resumed by `publish`, by `close`, or by their own cancellation; no polling.
public final class PositionSignal: Sendable {
    private struct State {
        var position: ULID?
        var waiters: [UInt64: (target: ULID?, continuation: CheckedContinuation<Void, Never>)] = [:]
        var nextToken: UInt64 = 0
        var closed = false
    }

    private let state: Mutex<State>

    public init(_ position: ULID? = nil) {
        state = Mutex(State(position: position))
    }

    public var position: ULID? { state.withLock { $0.position } }
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Moves the position forward (never back) and wakes the waiters it satisfies.
    public func publish(_ position: ULID) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            if let current = state.position, current >= position { return [] }
            state.position = position
            var ready: [CheckedContinuation<Void, Never>] = []
            for (token, waiter) in state.waiters where Self.passes(position, waiter.target) {
                ready.append(waiter.continuation)
                state.waiters[token] = nil
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Wakes every waiter for good: later waits return at once.
    public func close() {
        let all = state.withLock { state in
            state.closed = true
            defer { state.waiters = [:] }
            return state.waiters.values.map(\.continuation)
        }
        for continuation in all { continuation.resume() }
    }

    /// Returns once the position is past `target` (any position, when `target` is nil),
    /// or when closed or (if `cancellable`) cancelled. Callers check which.
    public func wait(after target: ULID?, cancellable: Bool = true) async {
        let token = state.withLock { state in
            defer { state.nextToken += 1 }
            return state.nextToken
        }
        func register(_ continuation: CheckedContinuation<Void, Never>) {
            let ready = state.withLock { state -> Bool in
                if state.closed || (cancellable && Task.isCancelled) { return true }
                if let position = state.position, Self.passes(position, target) { return true }
                state.waiters[token] = (target, continuation)
                return false
            }
            if ready { continuation.resume() }
        }
        guard cancellable else {
            await withCheckedContinuation(register)
            return
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation(register)
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: token) }
            waiter?.continuation.resume()
        }
    }

    /// Returns once the position is at or past `target`, or when closed or (if
    /// `cancellable`) cancelled.
    public func wait(reaching target: ULID, cancellable: Bool = true) async {
        while !isClosed && !(cancellable && Task.isCancelled) {
            // Read the position once: waiting "after" a second, later reading would sleep
            // through the very publish that reached the target.
            let current = position
            if let current, current >= target { return }
            await wait(after: current, cancellable: cancellable)
        }
    }

    private static func passes(_ position: ULID, _ target: ULID?) -> Bool {
        target.map { position > $0 } ?? true
    }
}
