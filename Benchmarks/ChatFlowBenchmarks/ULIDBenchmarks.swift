import Benchmark
import ChatFlowStorage

func ulidBenchmarks() {
    Benchmark("ULIDGenerator.next") { benchmark in
        var generator = ULIDGenerator()
        for _ in benchmark.scaledIterations {
            blackHole(generator.next())
        }
    }

    Benchmark("ULID text round trip") { benchmark in
        var generator = ULIDGenerator()
        let id = generator.next()
        for _ in benchmark.scaledIterations {
            blackHole(ULID(id.description))
        }
    }
}
