import ChatFlowCore
import Foundation
import Synchronization

/// Per-user token buckets: `rate` tokens a second up to `burst`. Off when rate is 0.
package final class RateLimiter: Sendable {
    private let rate: Double
    private let burst: Double
    /// Users tracked before the idle ones (whose buckets have refilled) are forgotten.
    private let sweepAbove: Int

    private struct State {
        var buckets: [String: (tokens: Double, updated: Double)] = [:]
        /// The size at which the next sweep runs: twice what the last one kept, so that a
        /// table of busy users is not swept again on every request.
        var nextSweep: Int
    }
    private let state: Mutex<State>

    package init(rate: Double, burst: Double, sweepAbove: Int = 100_000) {
        self.rate = rate
        self.burst = max(burst, 1)
        self.sweepAbove = sweepAbove
        state = Mutex(State(nextSweep: sweepAbove))
    }

    /// Users with a bucket now.
    var trackedUsers: Int { state.withLock { $0.buckets.count } }

    /// nil when the request may go ahead; otherwise the seconds until it may.
    func take(_ user: UserID, now: Double = Date().timeIntervalSince1970) -> Double? {
        guard rate > 0 else { return nil }
        return state.withLock { state in
            var bucket = state.buckets[user.rawValue] ?? (burst, now)
            bucket.tokens = refilled(bucket, now: now)
            bucket.updated = now
            defer {
                state.buckets[user.rawValue] = bucket
                if state.buckets.count > state.nextSweep { sweep(&state, now: now) }
            }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return (1 - bucket.tokens) / rate
        }
    }

    private func refilled(_ bucket: (tokens: Double, updated: Double), now: Double) -> Double {
        min(burst, bucket.tokens + max(0, now - bucket.updated) * rate)
    }

    /// Forgets users whose buckets have refilled: a new bucket would be the same.
    private func sweep(_ state: inout State, now: Double) {
        state.buckets = state.buckets.filter { refilled($0.value, now: now) < burst }
        state.nextSweep = max(sweepAbove, 2 * state.buckets.count)
    }
}
