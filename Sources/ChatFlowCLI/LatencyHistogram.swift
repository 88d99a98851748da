import Histogram

/// Latencies in microseconds, from 1 µs to 10 minutes at three significant digits.
struct LatencyHistogram: Sendable {
    private(set) var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)

    mutating func record(microseconds: UInt64) {
        _ = histogram.record(min(microseconds, histogram.highestTrackableValue))
    }

    mutating func add(_ other: LatencyHistogram) { histogram.add(other.histogram) }

    var count: Int { Int(histogram.totalCount) }

    /// Milliseconds at `percentile` (0 when nothing was recorded).
    func milliseconds(atPercentile percentile: Double) -> Double {
        count == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1000
    }

    var maxMilliseconds: Double { count == 0 ? 0 : Double(histogram.max) / 1000 }
}
