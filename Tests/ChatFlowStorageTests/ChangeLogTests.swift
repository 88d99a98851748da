import Foundation
import Synchronization
import Testing
@testable import ChatFlowStorage
import ChatFlowTestSupport

@Suite struct ChangeLogTests {
    private func payload(_ n: Int) -> [UInt8] { Array("event-\(n)".utf8) }

    @Test func concurrentAppendsGetUniqueOrderedIDsAndATailerSeesEachOnce() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try RocksDBChangeLog.open(path: dir.path)
        defer { log.close(); log.database.close() }

        let producers = 32, perProducer = 50, total = producers * perProducer
        // The tailer starts before any write.
        let tailer = Task { () -> [LogRecord] in
            var seen: [LogRecord] = []
            for try await record in log.tail(after: nil) {
                seen.append(record)
                if seen.count == total { break }
            }
            return seen
        }
        let appended = try await withThrowingTaskGroup(of: [(ULID, [UInt8])].self) { group in
            for p in 0..<producers {
                group.addTask {
                    var mine: [(ULID, [UInt8])] = []
                    for i in 0..<perProducer {
                        let bytes = self.payload(p * 1000 + i)
                        let result = try await log.append(bytes)
                        #expect(!result.isReplay && result.ids.count == 1)
                        mine.append((result.ids[0], bytes))
                    }
                    // Each producer's own acks come back in increasing order.
                    #expect(zip(mine, mine.dropFirst()).allSatisfy { $0.0 < $1.0 })
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(Set(appended.map(\.0)).count == total)

        let stored = try log.read(after: nil, limit: total + 10)
        #expect(stored.count == total)
        #expect(zip(stored, stored.dropFirst()).allSatisfy { $0.id < $1.id })
        let byID = Dictionary(uniqueKeysWithValues: appended.map { ($0.0, $0.1) })
        #expect(stored.allSatisfy { byID[$0.id] == $0.payload })
        #expect(log.lastPosition == stored.last?.id)

        let tailed = try await tailer.value
        #expect(tailed == stored)
    }

    @Test func manyEventsInOneAppendAreConsecutive() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try RocksDBChangeLog.open(path: dir.path)
        defer { log.close(); log.database.close() }
        let result = try await log.append([payload(1), payload(2), payload(3)], idempotencyKey: nil)
        #expect(result.ids.count == 3)
        #expect(try log.read(after: nil, limit: 10).map(\.id) == result.ids)
        #expect(try log.read(after: result.ids[0], limit: 10).map(\.id) == Array(result.ids.dropFirst()))
        #expect(try log.read(after: result.ids[2], limit: 10).isEmpty)
        #expect(try log.read(after: nil, limit: 2).count == 2)
    }

    @Test func aRepeatedIdempotencyKeyReturnsTheOriginalAndAppendsNothing() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try RocksDBChangeLog.open(path: dir.path)
        defer { log.close(); log.database.close() }
        let key = IdempotencyKey(scope: "alice", key: "msg-1")
        let first = try await log.append(payload(1), idempotencyKey: key)
        let again = try await log.append(payload(2), idempotencyKey: key)
        #expect(!first.isReplay && again.isReplay && again.ids == first.ids)
        // Another user's identical key is a different key.
        let bob = try await log.append(payload(3), idempotencyKey: IdempotencyKey(scope: "bob", key: "msg-1"))
        #expect(!bob.isReplay)
        // Concurrent repeats of a fresh key: exactly one append wins.
        let racing = IdempotencyKey(scope: "alice", key: "msg-2")
        let results = try await withThrowingTaskGroup(of: AppendResult.self) { group in
            for i in 0..<20 { group.addTask { try await log.append(self.payload(100 + i), idempotencyKey: racing) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { !$0.isReplay }.count == 1)
        #expect(Set(results.map(\.ids)).count == 1)
        #expect(try log.read(after: nil, limit: 100).count == 3)
    }

    /// A key sent again with another request is a reuse, not a retry: the first result comes
    /// back marked so, and nothing is written. A key without a fingerprint, or a record
    /// written before fingerprints (its value ends after the ids), replays as before.
    @Test func aKeyReusedForAnotherRequestIsToldApartFromARetry() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try RocksDBChangeLog.open(path: dir.path)
        defer { log.close(); log.database.close() }
        func key(_ request: String?) -> IdempotencyKey {
            IdempotencyKey(scope: "alice", key: "msg-1", request: request.map { Array($0.utf8) })
        }
        let first = try await log.append(payload(1), idempotencyKey: key("hello"))
        // The record keeps the layout servers before fingerprints read (a downgrade works).
        let family = try log.database.family(LogKeys.idempotencyFamily)
        let stored = try #require(try log.database.get(LogKeys.idempotencyRecord(key(nil)), in: family))
        #expect(stored.count == 12 + 16 && LogKeys.decodeIdempotencyValue(stored)?.ids == first.ids)
        let retry = try await log.append(payload(2), idempotencyKey: key("hello"))
        #expect(retry.isReplay && !retry.isReusedKey && retry.ids == first.ids)
        let reuse = try await log.append(payload(3), idempotencyKey: key("something else"))
        #expect(reuse.isReplay && reuse.isReusedKey && reuse.ids == first.ids)
        #expect(try await log.append(payload(4), idempotencyKey: key(nil)).isReusedKey == false)
        // A key used again after it expired, without a fingerprint, leaves none of the old
        // use behind to judge the next retry by.
        let batch0 = WriteBatch()
        batch0.delete(LogKeys.idempotencyRecord(key(nil)), in: family)
        try log.database.write(batch0, sync: true)
        let unmarked = try await log.append(payload(8), idempotencyKey: key(nil))
        #expect(!unmarked.isReplay)
        #expect(try await log.append(payload(9), idempotencyKey: key("anything")).isReusedKey == false)
        // Within one group commit too: the second of two racing requests is the reuse.
        let racing = try await withThrowingTaskGroup(of: AppendResult.self) { group in
            for text in ["a", "b"] {
                group.addTask { try await log.append(self.payload(5), idempotencyKey: IdempotencyKey(scope: "alice", key: "msg-2", request: Array(text.utf8))) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(racing.filter { !$0.isReplay }.count == 1 && racing.filter(\.isReusedKey).count == 1)
        #expect(try log.read(after: nil, limit: 100).count == 3)

        // A record without a fingerprint.
        let old = IdempotencyKey(scope: "alice", key: "from-before")
        let original = try await log.append(payload(6)).ids
        let batch = WriteBatch()
        batch.put(LogKeys.idempotencyRecord(old), LogKeys.encodeIdempotencyValue(expiresAt: .max, ids: original), in: family)
        try log.database.write(batch, sync: true)
        let replayed = try await log.append(payload(7), idempotencyKey: IdempotencyKey(scope: "alice", key: "from-before", request: [1]))
        #expect(replayed.isReplay && !replayed.isReusedKey && replayed.ids == original)
    }

    /// Keys are told apart by their bytes, as their records are stored: "é" and "e" with a
    /// combining accent are two keys, also when they arrive in one commit (where Swift's
    /// string equality made them one, and the second's retry then appended again).
    @Test func keysSpelledDifferentlyAreDifferentKeysWithinACommit() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try RocksDBChangeLog.open(path: dir.path)
        defer { log.close(); log.database.close() }
        for round in 0..<20 {
            let keys = ["caf\u{E9}-\(round)", "cafe\u{301}-\(round)"].map { IdempotencyKey(scope: "alice", key: $0) }
            let first = try await withThrowingTaskGroup(of: (Int, AppendResult).self) { group in
                for (index, key) in keys.enumerated() {
                    group.addTask { (index, try await log.append(self.payload(index), idempotencyKey: key)) }
                }
                return try await group.reduce(into: [Int: AppendResult]()) { $0[$1.0] = $1.1 }
            }
            #expect(first.values.allSatisfy { !$0.isReplay } && first[0]?.ids != first[1]?.ids, "round \(round)")
            for (index, key) in keys.enumerated() {
                let retry = try await log.append(payload(index), idempotencyKey: key)
                #expect(retry.isReplay && retry.ids == first[index]?.ids, "round \(round), key \(index)")
            }
        }
    }

    /// A key recorded in a sibling scope makes a request a reused key, whether it was
    /// committed before or is in the same commit: exactly one of two concurrent requests
    /// with one key in two scopes is written.
    @Test func aKeyInASiblingScopeIsAReusedKey() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try RocksDBChangeLog.open(path: dir.path)
        defer { log.close(); log.database.close() }
        func key(_ scope: String, _ key: String) -> IdempotencyKey {
            IdempotencyKey(scope: scope, key: key, request: Array(scope.utf8), siblingScopes: ["alice", "alice/chats"].filter { $0 != scope })
        }
        let first = try await log.append(payload(1), idempotencyKey: key("alice", "k"))
        let before = log.lastPosition
        let sibling = try await log.append(payload(2), idempotencyKey: key("alice/chats", "k"))
        #expect(sibling.isReusedKey && sibling.ids.isEmpty && log.lastPosition == before)
        #expect(try log.rememberedResult(for: key("alice/chats", "k"))?.isReusedKey == true)
        #expect(try log.rememberedResult(for: key("alice", "k"))?.ids == first.ids)
        // Another user's key, or one without siblings, is its own.
        #expect(try await !log.append(payload(3), idempotencyKey: IdempotencyKey(scope: "bob/chats", key: "k")).isReplay)

        for round in 0..<20 {
            let keys = [key("alice", "race-\(round)"), key("alice/chats", "race-\(round)")]
            let results = try await withThrowingTaskGroup(of: AppendResult.self) { group in
                for (index, key) in keys.enumerated() {
                    group.addTask { try await log.append(self.payload(index), idempotencyKey: key) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter { !$0.isReplay }.count == 1 && results.filter(\.isReusedKey).count == 1, "round \(round)")
        }
    }

    /// A log whose idempotency keys are kept for one second of `clock`.
    private static func openWithOneSecondKeys(_ dir: TemporaryDirectory, clock: @escaping ULIDGenerator.Clock) throws -> RocksDBChangeLog {
        var options = ChangeLogOptions()
        options.clock = clock
        options.idempotencyWindowMilliseconds = 1000
        return try RocksDBChangeLog.open(path: dir.path, options: options)
    }

    @Test func idempotencyKeysExpireAfterTheWindow() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let now = Mutex<UInt64>(1_800_000_000_000)
        let log = try Self.openWithOneSecondKeys(dir) { now.withLock { $0 } }
        defer { log.close(); log.database.close() }
        let key = IdempotencyKey(scope: "alice", key: "k")
        let first = try await log.append(payload(1), idempotencyKey: key)
        now.withLock { $0 += 999 }
        #expect(try await log.append(payload(2), idempotencyKey: key).isReplay)
        now.withLock { $0 += 120_000 }
        let later = try await log.append(payload(3), idempotencyKey: key)
        #expect(!later.isReplay && later.ids != first.ids)
        // The sweep that ran with that commit must not have removed the fresh record.
        #expect(try await log.append(payload(4), idempotencyKey: key).ids == later.ids)
    }

    /// Expired keys are swept faster than keyed writes add them: each commit takes up to
    /// twice its own keys and 64 more, however many have piled up. (A sweep of at most
    /// 10,000 once a minute fell behind from 167 keyed writes a second, for good.)
    @Test func expiredKeysAreSweptFasterThanTheyAreAdded() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let now = Mutex<UInt64>(1_800_000_000_000)
        let log = try Self.openWithOneSecondKeys(dir) { now.withLock { $0 } }
        defer { log.close(); log.database.close() }
        // 20,000 keys of a busy day (as a restart finds them), all expired by the time the
        // next writes come.
        let family = try log.database.family(LogKeys.idempotencyFamily)
        let original = [ULID.zero]
        let batch = WriteBatch()
        let expiresAt = now.withLock { $0 } + 500
        for n in 0..<20_000 {
            let key = IdempotencyKey(scope: "bob", key: "old-\(n)")
            batch.put(LogKeys.idempotencyRecord(key), LogKeys.encodeIdempotencyValue(expiresAt: expiresAt, ids: original), in: family)
            batch.put(LogKeys.idempotencyExpiry(key, expiresAt: expiresAt), [], in: family)
        }
        try log.database.write(batch, sync: true)
        now.withLock { $0 += 1000 }
        for n in 0..<350 {
            _ = try await log.append(payload(n), idempotencyKey: IdempotencyKey(scope: "alice", key: "new-\(n)"))
        }
        func rows(_ tag: UInt8) throws -> Int {
            let iterator = log.database.makeIterator(over: family, lower: [tag], upper: [tag + 1])
            iterator.seekToFirst()
            var count = 0
            while iterator.isValid { count += 1; iterator.next() }
            try iterator.checkError()
            return count
        }
        let (expiries, records) = (try rows(LogKeys.expiryTag), try rows(LogKeys.recordTag))
        #expect(expiries == 350 && records == 350, "only the fresh keys are left: \(expiries) expiries, \(records) records")
        #expect(try await log.append(payload(1), idempotencyKey: IdempotencyKey(scope: "alice", key: "new-349")).isReplay)
    }

    /// The block check (restore's) reads the records retention removed too, while their
    /// table is on disk: compaction would read that table, and fail on damage in it.
    @Test func theBlockCheckReadsRecordsRetentionRemovedToo() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let log = try RocksDBChangeLog.open(path: dir.path)
            // Bytes that do not compress away, so that the table has many blocks.
            let records = (0..<3000).map { n in payload(n) + (0..<200).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 7 ^ n &* 40_503) } }
            let ids = try await log.append(records, idempotencyKey: nil).ids
            let events = try log.database.family(LogKeys.eventsFamily)
            try log.database.flush([events])
            #expect(try log.truncate(before: ids[2900], keep: { _ in false }) == 2900)
            try log.database.flush([events])
            #expect(try log.checkBlocks() == 3000)
            log.close(); log.database.close()
        }
        // The first table holds every record, most of them removed; damage one of those.
        let tables = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".sst") }
        let largest = try #require(try tables.max { try Self.size(dir.path + "/" + $0) < Self.size(dir.path + "/" + $1) })
        var bytes = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/" + largest))
        for offset in bytes.count / 4..<(bytes.count / 4 + 16) { bytes[offset] ^= 0xFF }
        try bytes.write(to: URL(fileURLWithPath: dir.path + "/" + largest))

        let log = try RocksDBChangeLog.open(path: dir.path)
        defer { log.close(); log.database.close() }
        #expect(try log.read(after: nil, limit: 1000).count == 100, "the records left read as before")
        do {
            try log.checkBlocks()
            Issue.record("the damaged block of removed records was not read")
        } catch StorageError.damagedLog {
        }
    }

    private static func size(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }

    @Test func reopeningContinuesAfterTheLastID() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        // A clock that went backwards between runs must not break the order.
        var options = ChangeLogOptions()
        options.clock = { 2_000_000_000_000 }
        var last: ULID?
        do {
            let log = try RocksDBChangeLog.open(path: dir.path, options: options)
            last = try await log.append([payload(1), payload(2)], idempotencyKey: nil).ids.last
            log.close(); log.database.close()
        }
        options.clock = { 1_000_000_000_000 }
        let log = try RocksDBChangeLog.open(path: dir.path, options: options)
        defer { log.close(); log.database.close() }
        #expect(log.lastPosition == last)
        let next = try await log.append(payload(3)).ids[0]
        #expect(next > last!)
    }

    @Test func aReadOnlyLogRefusesAppends() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let log = try RocksDBChangeLog.open(path: dir.path)
            _ = try await log.append(payload(1))
            log.close(); log.database.close()
        }
        let log = try RocksDBChangeLog.open(path: dir.path, databaseOptions: DatabaseOptions(readOnly: true))
        defer { log.close(); log.database.close() }
        await #expect(throws: StorageError.readOnly) { try await log.append(payload(2)) }
        #expect(try log.read(after: nil, limit: 10).count == 1)
    }

    @Test func appendsAfterCloseAreRefusedAndTailersWake() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try RocksDBChangeLog.open(path: dir.path)
        defer { log.database.close() }
        let waiting = Task { await log.waitForCommit(after: nil) }
        log.close()
        await waiting.value
        await #expect(throws: StorageError.closed) { try await log.append(payload(1)) }
    }

    @Test func aCancelledWaitReturns() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let log = try RocksDBChangeLog.open(path: dir.path)
        defer { log.close(); log.database.close() }
        let waiting = Task { await log.waitForCommit(after: nil); return Task.isCancelled }
        waiting.cancel()
        #expect(await waiting.value)
    }
}
