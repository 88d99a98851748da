import Synchronization

/// Holds back the hub's hand-over of applied batches, so that a test can put the hub behind
/// the projections, as load does: never held while serving. A hold must be released before
/// the server stops (the hub waits for it).
package final class DeliveryPause: Sendable {
    private struct State {
        var held = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    package init() {}

    package func hold() {
        state.withLock { $0.held = true }
    }

    package func release() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.held = false
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Returns at once unless held; then once released.
    func pass() async {
        guard state.withLock({ $0.held }) else { return }
        await withCheckedContinuation { continuation in
            let go = state.withLock { state -> Bool in
                guard state.held else { return true }
                state.waiter = continuation
                return false
            }
            if go { continuation.resume() }
        }
    }
}
