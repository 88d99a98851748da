import Benchmark

/// Every suite, one file per subject. Run with `swift package benchmark`.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )
    ulidBenchmarks()
    codecBenchmarks()
    changeLogBenchmarks()
    projectionBenchmarks()
    historyBenchmarks()
    liveBenchmarks()
}
