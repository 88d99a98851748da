import ChatFlowCore
import ChatFlowStorage
import Foundation
import Testing
import ChatFlowTestSupport

/// SIGKILL a process that is appending, at random moments, and check the log afterwards.
@Suite(.serialized) struct LogCrashTests {
    /// What a run acknowledged, read from its `ack <id> <name>` lines.
    private func acknowledged(_ lines: [String]) -> [(ULID, String)] {
        lines.compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == "ack", let id = ULID(String(parts[1])) else { return nil }
            return (id, String(parts[2]))
        }
    }

    /// The name each record carries (every event of `append-loop` is a chat.created).
    private func names(in records: [LogRecord]) throws -> [String] {
        try records.map { record in
            guard case .chatCreated(let created) = try EventCodec.decode(record.payload).event else {
                throw ChatFlowError.invalid("unexpected event in \(record.id)")
            }
            return created.name
        }
    }

    private func readAll(_ path: String) throws -> [LogRecord] {
        let log = try RocksDBChangeLog.open(path: path)
        defer { log.close(); log.database.close() }
        return try log.read(after: nil, limit: .max)
    }

    /// Every acknowledged event is present exactly once and in order, and every record is
    /// one that some run attempted: at most one unacknowledged append per producer per run.
    private func check(_ records: [LogRecord], acked: [(ULID, String)], runs: [String]) throws {
        #expect(zip(records, records.dropFirst()).allSatisfy { $0.id < $1.id }, "log ids must increase")
        let stored = Dictionary(uniqueKeysWithValues: try zip(records.map(\.id), names(in: records)).map { ($0, $1) })
        for (id, name) in acked {
            #expect(stored[id] == name, "acknowledged \(id) (\(name)) is missing or different")
        }
        #expect(Set(stored.values).count == stored.count, "an event was stored twice")
        let ackedNames = Set(acked.map(\.1))
        var unacknowledgedPerProducer: [String: Int] = [:]
        for name in stored.values where !ackedNames.contains(name) {
            let parts = name.split(separator: "-")
            #expect(parts.count == 3 && runs.contains(String(parts[0])), "\(name) was never attempted")
            unacknowledgedPerProducer[parts.dropLast().joined(separator: "-"), default: 0] += 1
        }
        #expect(unacknowledgedPerProducer.values.allSatisfy { $0 <= 1 }, "more unacknowledged events than appends in flight")
    }

    @Test func killedAppendersLoseNoAcknowledgedEvent() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending("data")
        var acked: [(ULID, String)] = []
        var runs: [String] = []
        var rng = SystemRandomNumberGenerator()
        for cycle in 0..<6 {
            let label = "run\(cycle)"
            runs.append(label)
            let child = try ChildProcess(["append-loop", "--data-dir", path, "--producers", "8", "--label", label])
            let target = Int.random(in: 1...2_000, using: &rng)
            let reached = await child.waitForOutput { $0.count > target }
            #expect(reached, "the appender never acknowledged \(target) events")
            let lines = child.kill()
            let thisRun = acknowledged(lines)
            #expect(thisRun.count >= target)
            acked += thisRun
            try check(try readAll(path), acked: acked, runs: runs)
        }
        #expect(acked.count > 0)
    }

    @Test func aTornWALTailOpensToAPrefixWithEveryAcknowledgedEvent() async throws {
        var rng = SystemRandomNumberGenerator()
        for cycle in 0..<3 {
            let dir = TemporaryDirectory()
            defer { dir.remove() }
            let path = dir.appending("data")
            let label = "torn\(cycle)"
            // The child appends, then leaves a batch in the WAL that was never fsync'd or
            // acknowledged — what a crash during a group commit leaves — and is killed.
            let child = try ChildProcess([
                "append-loop", "--data-dir", path, "--producers", "16", "--label", label,
                "--stop-after", "\(Int.random(in: 100...1_500, using: &rng))",
            ])
            #expect(await child.waitForOutput { $0.last == "unsynced-batch-written" })
            let acked = acknowledged(child.kill())
            let before = try readOnly(path)
            #expect(before.count == acked.count + 4, "the unacknowledged batch is in the WAL")

            // Tear the tail of the newest WAL file by a few bytes.
            let wal = try newestWAL(in: path)
            let size = try FileManager.default.attributesOfItem(atPath: wal)[.size] as! Int
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: wal))
            try handle.truncate(atOffset: UInt64(size - Int.random(in: 1...8, using: &rng)))
            try handle.close()

            let (after, damage) = try readAllWithDamage(path)
            #expect(damage.isEmpty, "a torn tail held nothing acknowledged: \(damage)")
            #expect(after.count == acked.count, "exactly the torn batch is gone")
            #expect(Array(before.prefix(after.count)) == after, "the log must open to a prefix of what was written")
            try check(after, acked: acked, runs: [label])
        }
    }

    /// Damage inside the write-ahead log loses what follows it (RocksDB opens to the records
    /// before it): opening says so, in words that name the log's new end, and records the
    /// lost ids, so a WebSocket resume from one of them is refused; the next opening finds
    /// nothing wrong (the log was rewritten without the damage).
    @Test func damageInsideTheWALIsSaidAndItsLostIdsAreRecorded() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending("data")
        let child = try ChildProcess(["append-loop", "--data-dir", path, "--producers", "8", "--label", "damaged"])
        #expect(await child.waitForOutput { $0.count > 1_500 })
        let acked = acknowledged(child.kill())
        let wal = try newestWAL(in: path)
        let size = try FileManager.default.attributesOfItem(atPath: wal)[.size] as! Int
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: wal))
        try handle.seek(toOffset: UInt64(size / 3))
        try handle.write(contentsOf: Data((0..<64).map { _ in UInt8.random(in: 0...255) }))
        try handle.close()

        do {
            let engine = try ChatFlowEngine(dataDirectory: path)
            defer { engine.close() }
            let report = try #require(engine.walDamageReport)
            let kept = try engine.log.read(after: nil, limit: .max)
            let end = try #require(kept.last?.id)
            #expect(report.contains("the write-ahead log was damaged") && report.contains("ends at event \(end)"), "\(report)")
            let lost = acked.map(\.0).filter { $0 > end }
            #expect(!lost.isEmpty, "the damage lost nothing acknowledged")
            let keptAllBefore = Set(acked.map(\.0).filter { $0 <= end }).isSubset(of: Set(kept.map(\.id)))
            #expect(keptAllBefore, "the log opens to a prefix: every acknowledged event up to its end is kept")
            for id in lost { #expect(try RestoreGaps.contain(id, in: engine.database), "\(id) is not recorded as lost") }
            #expect(try !RestoreGaps.contain(end, in: engine.database))
        }
        let again = try ChatFlowEngine(dataDirectory: path)
        defer { again.close() }
        #expect(again.walDamageReport == nil)
    }

    private func readAllWithDamage(_ path: String) throws -> ([LogRecord], [String]) {
        let log = try RocksDBChangeLog.open(path: path)
        defer { log.close(); log.database.close() }
        return (try log.read(after: nil, limit: .max), log.database.walDamage)
    }

    private func readOnly(_ path: String) throws -> [LogRecord] {
        let log = try RocksDBChangeLog.open(path: path, databaseOptions: DatabaseOptions(readOnly: true))
        defer { log.close(); log.database.close() }
        return try log.read(after: nil, limit: .max)
    }

    private func newestWAL(in path: String) throws -> String {
        let logs = try FileManager.default.contentsOfDirectory(atPath: path)
            .filter { $0.hasSuffix(".log") && $0.first!.isNumber }
            .sorted { Int($0.dropLast(4))! < Int($1.dropLast(4))! }
        return path + "/" + (logs.last ?? "none.log")
    }
}
