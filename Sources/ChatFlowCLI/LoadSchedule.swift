/// When each post is due: evenly spaced from `start` at `rate` per second. Latencies are
/// measured from these times, not from when a post actually went out, so a server that
/// stalls is charged for every post that should have been sent meanwhile (no coordinated
/// omission).
struct LoadSchedule: Sendable {
    let start: ContinuousClock.Instant
    let rate: Double
    let count: Int

    func time(of sequence: Int) -> ContinuousClock.Instant {
        start + .nanoseconds(Int64((Double(sequence) * 1e9 / rate).rounded()))
    }

    /// Microseconds from the post's due time to `now` (0 if `now` is earlier).
    func microseconds(since sequence: Int, at now: ContinuousClock.Instant) -> UInt64 {
        let elapsed = now - time(of: sequence)
        guard elapsed > .zero else { return 0 }
        return UInt64(elapsed.components.seconds) * 1_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000_000)
    }

    /// The last post's due time.
    var end: ContinuousClock.Instant { time(of: max(count - 1, 0)) }
}
