#if canImport(Glibc)
import Glibc
#endif

/// Makes strictly increasing ULIDs.
///
/// Within one millisecond (or when the clock steps backwards) the next id is the previous
/// one plus one, so ids never repeat and never go down. When the 80-bit random part runs
/// out within a millisecond, the carry moves into the timestamp: the id stays unique and
/// ordered, and its time runs at most a millisecond ahead of the clock.
///
/// Not thread-safe: the change log's single writer owns one.
public struct ULIDGenerator: Sendable {
    public typealias Clock = @Sendable () -> UInt64
    public typealias Random = @Sendable () -> (UInt16, UInt64)

    private let clock: Clock
    private let random: Random
    private var last: ULID?

    /// - Parameters:
    ///   - clock: milliseconds since the Unix epoch; the wall clock by default.
    ///   - random: the 80 random bits for a new millisecond; the system generator by default.
    public init(clock: @escaping Clock = ULIDGenerator.wallClockMilliseconds,
                random: @escaping Random = ULIDGenerator.systemRandom) {
        self.clock = clock
        self.random = random
    }

    /// Continues after `last`, so that a reopened log keeps its order.
    public mutating func resume(after last: ULID?) {
        if let last, self.last.map({ last > $0 }) ?? true { self.last = last }
    }

    public mutating func next() -> ULID {
        let now = Swift.min(clock(), ULID.maxTimestamp)
        let id: ULID
        if let last, last.timestamp >= now {
            // Same millisecond or a clock step backwards: increment, carrying into time.
            guard let next = last.successor else { fatalError("ULID space exhausted") }
            id = next
        } else {
            let (r1, r2) = random()
            id = ULID(timestamp: now, randomHigh: r1, randomLow: r2)
        }
        last = id
        return id
    }

    @Sendable public static func wallClockMilliseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }

    @Sendable public static func systemRandom() -> (UInt16, UInt64) {
        var rng = SystemRandomNumberGenerator()
        // Leave the top bit of the random part clear: ~2^79 increments of headroom
        // within a millisecond before the carry reaches the timestamp.
        return (UInt16.random(in: 0...0x7FFF, using: &rng), rng.next())
    }
}
