import ChatFlowCore
import ChatFlowStorage
import Foundation
import Synchronization

/// Fills a data directory with generated events quickly: many events per append, so one
/// fsync covers thousands of them.
///
/// `WorkloadGenerator` needs each event's id before it makes the next (a chat's id is its
/// creation event's id, reactions refer to earlier messages), but an append learns its ids
/// only when it commits. So the log is given a clock and a random source that this writer
/// controls — the time moves once per append, the random part is zero — and a twin
/// `ULIDGenerator` with the same inputs predicts the ids the log will assign. Each append
/// checks the prediction against what the log returned.
struct WorkloadWriter {
    /// The time the log's clock reads, in Unix milliseconds; moved by the writer only.
    final class Clock: Sendable {
        let now: Atomic<UInt64>

        init(_ start: UInt64) {
            now = Atomic(start)
        }
    }

    /// The log assigned other ids than the twin predicted: the log's id assignment changed.
    struct UnexpectedIDs: Error, CustomStringConvertible {
        let predicted: [ULID]
        let assigned: [ULID]

        var description: String {
            "the log assigned \(assigned.count) ids \(assigned.first.map(String.init(describing:)) ?? "-")… "
                + "where \(predicted.count) ids \(predicted.first.map(String.init(describing:)) ?? "-")… were predicted"
        }
    }

    /// 2026-01-01T00:00:00Z: the first append's time.
    static let start: UInt64 = 1_767_225_600_000
    /// Log time between two appends (an hour): every event of one append shares its
    /// millisecond, in id order.
    static let step: UInt64 = 3_600_000

    let clock: Clock
    private var twin: ULIDGenerator
    private(set) var appends = 0

    init() {
        clock = Clock(Self.start)
        let options = Self.logOptions(clock)
        twin = ULIDGenerator(clock: options.clock, random: options.random)
    }

    /// The options to open the log with, so that its ids follow `clock`.
    var logOptions: ChangeLogOptions { Self.logOptions(clock) }

    private static func logOptions(_ clock: Clock) -> ChangeLogOptions {
        var options = ChangeLogOptions()
        options.clock = { clock.now.load(ordering: .relaxed) }
        options.random = { (0, 0) }
        return options
    }

    /// The log time of the `index`th append (from 0).
    static func time(ofAppend index: Int) -> UInt64 {
        start + UInt64(index) * step
    }

    /// Appends up to `count` events from `generator` in one append (one fsync); stops after
    /// an event for which `last` returns true. Returns the number of events appended.
    @discardableResult
    mutating func append(
        _ count: Int, from generator: inout WorkloadGenerator, to log: RocksDBChangeLog,
        last: (EventEnvelope) -> Bool = { _ in false }
    ) async throws -> Int {
        clock.now.store(Self.time(ofAppend: appends), ordering: .relaxed)
        appends += 1
        var payloads: [[UInt8]] = []
        var predicted: [ULID] = []
        payloads.reserveCapacity(count)
        predicted.reserveCapacity(count)
        for _ in 0..<count {
            let envelope = generator.next()
            let id = twin.next()
            generator.acknowledge(id)
            payloads.append(EventCodec.encode(envelope))
            predicted.append(id)
            if last(envelope) { break }
        }
        let assigned = try await log.append(payloads, idempotencyKey: nil).ids
        guard assigned == predicted else { throw UnexpectedIDs(predicted: predicted, assigned: assigned) }
        return payloads.count
    }

    /// A fresh directory under the system's temporary directory.
    static func temporaryDirectory(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("chatflow-benchmark-\(name)-\(UUID().uuidString)").path
    }
}
