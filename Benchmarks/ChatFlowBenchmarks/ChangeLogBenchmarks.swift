import Benchmark
import ChatFlowCore
import ChatFlowStorage
import Foundation

func changeLogBenchmarks() {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .writeSyscalls, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(5),
        maxIterations: 20
    )
    for producers in [1, 64] {
        Benchmark("ChangeLog.append \(producers) producers", configuration: configuration) { benchmark in
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("chatflow-benchmark-\(UUID().uuidString)").path
            let log = try RocksDBChangeLog.open(path: directory)
            defer {
                log.close()
                log.database.close()
                try? FileManager.default.removeItem(atPath: directory)
            }
            let total = benchmark.scaledIterations.count
            benchmark.startMeasurement()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for producer in 0..<producers {
                    group.addTask {
                        var generator = WorkloadGenerator(settings: .init(chats: 4, userPrefix: "p\(producer)u"), seed: UInt64(producer))
                        for _ in 0..<(total / producers) {
                            let id = try await log.append(EventCodec.encode(generator.next())).ids[0]
                            generator.acknowledge(id)
                        }
                    }
                }
                try await group.waitForAll()
            }
            benchmark.stopMeasurement()
        }
    }
}
