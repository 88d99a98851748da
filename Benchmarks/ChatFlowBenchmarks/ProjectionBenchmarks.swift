import Benchmark
import ChatFlowCore
import ChatFlowStorage
import Foundation

/// Each projection's apply path, measured as a rebuild: the log's events are read back,
/// decoded and applied through `ProjectionApplier` (the path the projector's tail takes
/// too) into a fresh column family of a real RocksDB, in batches of 4,096 written with
/// their checkpoint; the new generation is then made live, as `chatflow rebuild` does.
///
/// The log holds 20,000 generated events (`WorkloadGenerator`: 16 chats of 8 members,
/// mostly posts, with reactions, edits, deletes and read markers), written once per
/// process outside the measurement.
func projectionBenchmarks() {
    let events = 20_000
    let eventsPerSecond = BenchmarkMetric.custom("events/s", polarity: .prefersLarger, useScalingFactor: false)
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, eventsPerSecond, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 1,
        maxDuration: .seconds(10),
        maxIterations: 10
    )
    let subjects = ProjectionCatalog.names.map { ($0, [$0]) } + [("all six", [])]
    for (label, names) in subjects {
        let fixture = ProjectionFixture(events: events)
        Benchmark("Projection.apply \(label), 20k events", configuration: configuration) { benchmark in
            let result = try fixture.rebuilder().rebuild(names)
            guard result.events == events else { throw ProjectionFixture.WrongCount(expected: events, applied: result.events) }
            benchmark.measurement(eventsPerSecond, Int(result.eventsPerSecond))
        } setup: {
            try await fixture.setUp()
        } teardown: {
            fixture.tearDown()
        }
    }
}

/// A data directory holding a generated log, for one benchmark process.
final class ProjectionFixture {
    struct WrongCount: Error {
        let expected: Int
        let applied: Int
    }

    struct NotSetUp: Error {}

    let events: Int
    private var directory: String?
    private var engine: ChatFlowEngine?

    init(events: Int) {
        self.events = events
    }

    func setUp() async throws {
        let directory = WorkloadWriter.temporaryDirectory("projections")
        var writer = WorkloadWriter()
        let engine = try ChatFlowEngine(dataDirectory: directory, logOptions: writer.logOptions)
        self.directory = directory
        self.engine = engine
        var generator = WorkloadGenerator(settings: .init(chats: 16), seed: 1)
        var written = 0
        while written < events {
            written += try await writer.append(Swift.min(4096, events - written), from: &generator, to: engine.log)
        }
    }

    func rebuilder() throws -> Rebuilder {
        guard let engine else { throw NotSetUp() }
        return Rebuilder(log: engine.log, store: engine.store)
    }

    func tearDown() {
        engine?.close()
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
        engine = nil
        directory = nil
    }
}
