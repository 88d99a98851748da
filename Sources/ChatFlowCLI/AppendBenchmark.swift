import ChatFlowCore
import ChatFlowStorage
import Foundation
import Histogram

/// Drives a change log with closed-loop producers and measures each append from call to ack.
struct AppendBenchmark {
    let events: Int
    let producers: Int
    let chats: Int
    let contentBytes: Int

    struct Result: Encodable {
        let events: Int
        let seconds: Double
        let eventsPerSecond: Double
        let p50Ms: Double
        let p99Ms: Double
        let p999Ms: Double
        let maxMs: Double
        /// Group commits (one fsync each) and the mean events per commit.
        var groupCommits = 0
        var meanGroupSize = 0.0
        /// Mean time of one commit's write and WAL fsync, and the share of the run spent
        /// in them: the rest is waiting for producers to append again.
        var writeMs = 0.0
        var writeShare = 0.0
        /// The rest of the writer's mean cycle: waiting for the group to form, assigning
        /// ids and building the batch, resuming the callers.
        var gatherMs = 0.0
        var prepareMs = 0.0
        var resumeMs = 0.0
    }

    func run(on log: some ChangeLog) async throws -> Result {
        let started = ContinuousClock.now
        let histograms = try await withThrowingTaskGroup(of: Histogram<UInt64>.self) { group in
            for producer in 0..<producers {
                let share = events / producers + (producer < events % producers ? 1 : 0)
                let ownChats = chats / producers + (producer < chats % producers ? 1 : 0)
                group.addTask {
                    var generator = WorkloadGenerator(
                        settings: .init(chats: ownChats, contentBytes: contentBytes, userPrefix: "p\(producer)u"),
                        seed: UInt64(producer) &* 0x9E37_79B9 &+ 1)
                    var latencies = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
                    var buffer: [UInt8] = []
                    buffer.reserveCapacity(contentBytes + 128)
                    for _ in 0..<share {
                        let envelope = generator.next()
                        buffer.removeAll(keepingCapacity: true)
                        EventCodec.encode(envelope, into: &buffer)
                        let sent = ContinuousClock.now
                        let result = try await log.append(buffer)
                        _ = latencies.record(UInt64((ContinuousClock.now - sent).nanoseconds))
                        generator.acknowledge(result.ids[0])
                    }
                    return latencies
                }
            }
            var all = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
            for try await histogram in group { all.add(histogram) }
            return all
        }
        let seconds = (ContinuousClock.now - started).seconds
        func ms(_ percentile: Double) -> Double { Double(histograms.valueAtPercentile(percentile)) / 1e6 }
        return Result(
            events: events, seconds: seconds, eventsPerSecond: Double(events) / seconds,
            p50Ms: ms(50), p99Ms: ms(99), p999Ms: ms(99.9), maxMs: Double(histograms.max) / 1e6)
    }
}

extension AppendBenchmark.Result {
    func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func table(producers: Int, directory: String?) -> String {
        func f(_ value: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", value) }
        return """
        durable appends: \(events) events, \(producers) producers, \(f(seconds, 2)) s
          events/s   \(f(eventsPerSecond, 0))
          latency    p50 \(f(p50Ms)) ms   p99 \(f(p99Ms)) ms   p99.9 \(f(p999Ms)) ms   max \(f(maxMs)) ms
          commits    \(groupCommits) group commits, \(f(meanGroupSize, 1)) events each on average
          writing    \(f(writeMs)) ms per commit (write + fsync), \(f(writeShare * 100, 0))% of the run
          the rest   \(f(gatherMs)) ms waiting for the group to form, \(f(prepareMs)) ms building it, \(f(resumeMs)) ms resuming its callers
        \(directory.map { "  data kept in \($0)" } ?? "")
        """
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
