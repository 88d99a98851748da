@testable import ChatFlowServer
import ChatFlowCore
import Testing

/// The per-user token buckets: refill, refusal with the wait, and forgetting idle users so
/// that the table stays the size of the users active lately.
@Suite struct RateLimiterTests {
    private func user(_ index: Int) -> UserID { UserID(unchecked: "u\(index)") }

    @Test func aBucketRefillsAtTheRate() {
        let limiter = RateLimiter(rate: 2, burst: 3)
        let alice = user(0)
        #expect((0..<3).map { _ in limiter.take(alice, now: 100) } == [nil, nil, nil])
        #expect(limiter.take(alice, now: 100) == 0.5, "one token comes in half a second")
        #expect(limiter.take(alice, now: 100.5) == nil)
        #expect(limiter.take(user(1), now: 100.5) == nil, "another user has a bucket of their own")
    }

    @Test func idleUsersAreForgotten() {
        let limiter = RateLimiter(rate: 1, burst: 2, sweepAbove: 10)
        for index in 0..<10 { _ = limiter.take(user(index), now: 0) }
        #expect(limiter.trackedUsers == 10)
        // Two seconds on, those ten buckets are full again: the eleventh user sweeps them.
        _ = limiter.take(user(10), now: 2)
        #expect(limiter.trackedUsers == 1)
        // Busy users stay, however many: their buckets are not full.
        for index in 0..<25 { _ = limiter.take(user(100 + index), now: 2) }
        #expect(limiter.trackedUsers == 26)
        #expect(limiter.take(user(100), now: 2) == nil, "a kept bucket still has its last token")
        #expect(limiter.take(user(100), now: 2) != nil)
    }

    @Test func anEndlessWaitIsCappedWhenAnswered() {
        let limiter = RateLimiter(rate: 1e-300, burst: 1)
        #expect(limiter.take(user(0), now: 0) == nil)
        let wait = limiter.take(user(0), now: 0)
        #expect(wait.map { $0 > 1e30 } == true)
        #expect(RateLimitMiddleware.retryAfterSeconds(wait!) == RateLimitMiddleware.longestRetryAfter)
        #expect(RateLimitMiddleware.retryAfterSeconds(0.2) == 1)
        #expect(RateLimitMiddleware.retryAfterSeconds(2.5) == 3)
    }
}
