import Foundation
import Synchronization

/// The change log on RocksDB, with group commit.
///
/// Appends queue up for one dedicated writer thread. The writer takes everything queued,
/// assigns ids in order and writes it as one batch; a second thread, the syncer, fsyncs
/// the write-ahead log once for every batch written since its last fsync and only then
/// resumes their callers. The two overlap: while one group is being fsync'd the next is
/// already being written, so each fsync covers as many appends as arrived meanwhile.
///
/// Ids are assigned at commit time by the only writer, so log order = id order = commit
/// order: a reader that has seen id X can never later find a new record before X.
/// Readers see only what is durable: reads stop at the last fsync'd id.
/// RocksDB calls on the append path run on these threads, never on the caller's.
public final class RocksDBChangeLog: ChangeLog {
    public let database: Database
    private let events: ColumnFamily
    private let idempotency: ColumnFamily
    private let options: ChangeLogOptions

    private struct Request {
        let payloads: [[UInt8]]
        let key: IdempotencyKey?
        let continuation: CheckedContinuation<AppendResult, any Error>
    }

    private struct Queue {
        var pending: [Request] = []
        var writerIdle = false
        var stopping = false
    }

    /// A batch written but not yet fsync'd, waiting for the syncer.
    private struct Written {
        let requests: [Request]
        let results: [AppendResult]
        let last: ULID?
        let events: Int
        let startedNanoseconds: UInt64
    }

    private struct SyncQueue {
        var written: [Written] = []
        var syncerIdle = false
        var stopping = false
    }

    private struct Published {
        var last: ULID?
        var waiters: [UInt64: (position: ULID?, continuation: CheckedContinuation<Void, Never>)] = [:]
        var nextToken: UInt64 = 0
        var closed = false
    }

    private let queue = Mutex(Queue())
    private let published: Mutex<Published>
    private let syncQueue = Mutex(SyncQueue())
    private let wakeWriter = DispatchSemaphore(value: 0)
    private let wakeSyncer = DispatchSemaphore(value: 0)
    private let writerStopped = DispatchSemaphore(value: 0)
    private let syncerStopped = DispatchSemaphore(value: 0)
    // Touched only by the writer thread.
    nonisolated(unsafe) private var generator: ULIDGenerator
    nonisolated(unsafe) private var lastSweep: UInt64 = 0

    /// Opens the log in `database` (which must have been opened with `LogKeys.families`).
    public init(database: Database, options: ChangeLogOptions = ChangeLogOptions()) throws(StorageError) {
        self.database = database
        self.options = options
        events = try database.family(LogKeys.eventsFamily)
        idempotency = try database.family(LogKeys.idempotencyFamily)
        let iterator = database.makeIterator(over: events)
        iterator.seekToLast()
        let last = iterator.isValid ? iterator.withKey { ULID(bytes: $0) } : nil
        try iterator.checkError()
        published = Mutex(Published(last: last))
        generator = ULIDGenerator(clock: options.clock, random: options.random)
        generator.resume(after: last)
        if !database.isReadOnly {
            let writer = Thread { [unowned self] in self.runWriter() }
            writer.name = "chatflow-log-writer"
            writer.start()
            let syncer = Thread { [unowned self] in self.runSyncer() }
            syncer.name = "chatflow-log-syncer"
            syncer.start()
        }
    }

    /// Opens (creating if needed) a database at `path` holding just the log.
    public static func open(path: String, options: ChangeLogOptions = ChangeLogOptions(), databaseOptions: DatabaseOptions = DatabaseOptions()) throws(StorageError) -> RocksDBChangeLog {
        let database = try Database.open(path: path, columnFamilies: LogKeys.families, options: databaseOptions)
        return try RocksDBChangeLog(database: database, options: options)
    }

    /// Stops the writer after it commits what is queued, and wakes every tailer.
    /// Appends after this throw `StorageError.closed`. Does not close the database.
    public func close() {
        let wasRunning = queue.withLock { queue in
            defer { queue.stopping = true }
            return !queue.stopping
        }
        if wasRunning && !database.isReadOnly {
            wakeWriter.signal()
            writerStopped.wait()
            syncQueue.withLock { $0.stopping = true }
            wakeSyncer.signal()
            syncerStopped.wait()
        }
        let waiters = published.withLock { state in
            state.closed = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.continuation.resume() }
    }

    // MARK: - ChangeLog

    public func append(_ payloads: [[UInt8]], idempotencyKey: IdempotencyKey?) async throws -> AppendResult {
        guard !database.isReadOnly else { throw StorageError.readOnly }
        guard !payloads.isEmpty else { return AppendResult(ids: [], isReplay: false) }
        return try await withCheckedThrowingContinuation { continuation in
            let request = Request(payloads: payloads, key: idempotencyKey, continuation: continuation)
            let (accepted, wake) = queue.withLock { queue -> (Bool, Bool) in
                guard !queue.stopping else { return (false, false) }
                queue.pending.append(request)
                defer { queue.writerIdle = false }
                return (true, queue.writerIdle)
            }
            if !accepted { continuation.resume(throwing: StorageError.closed) }
            if wake { wakeWriter.signal() }
        }
    }

    public func read(after position: ULID?, limit: Int) throws -> [LogRecord] {
        // Records written but not yet fsync'd are invisible: stop after the last durable id.
        guard let durable = lastPosition, position.map({ $0 < durable }) ?? true else { return [] }
        let lower = position.map { $0.successor?.bytes ?? ULID.max.bytes } ?? []
        let upper = durable.successor?.bytes
        let iterator = database.makeIterator(over: events, lower: lower, upper: upper)
        iterator.seekToFirst()
        var records: [LogRecord] = []
        records.reserveCapacity(Swift.min(limit, 1024))
        while iterator.isValid && records.count < limit {
            guard let id = iterator.withKey({ ULID(bytes: $0) }) else {
                throw StorageError.malformed("log key of \(iterator.key.count) bytes, expected 16")
            }
            records.append(LogRecord(id: id, payload: iterator.value))
            iterator.next()
        }
        try iterator.checkError()
        return records
    }

    /// Reads one record by id.
    public func record(_ id: ULID) throws -> LogRecord? {
        try database.get(LogKeys.event(id), in: events).map { LogRecord(id: id, payload: $0) }
    }

    public var lastPosition: ULID? { published.withLock { $0.last } }

    public func waitForCommit(after position: ULID?) async {
        let token: UInt64 = published.withLock { state in
            defer { state.nextToken += 1 }
            return state.nextToken
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = published.withLock { state -> Bool in
                    if state.closed || Task.isCancelled { return true }
                    if let last = state.last, position.map({ last > $0 }) ?? true { return true }
                    state.waiters[token] = (position, continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let waiter = published.withLock { $0.waiters.removeValue(forKey: token) }
            waiter?.continuation.resume()
        }
    }

    // MARK: - The writer

    private func runWriter() {
        while true {
            let (group, stop) = queue.withLock { queue -> ([Request], Bool) in
                if queue.pending.isEmpty {
                    queue.writerIdle = true
                    return ([], queue.stopping)
                }
                let take = Swift.min(queue.pending.count, options.maxGroupSize)
                let group = Array(queue.pending.prefix(take))
                queue.pending.removeFirst(take)
                return (group, false)
            }
            if group.isEmpty {
                if stop { break }
                wakeWriter.wait()
                continue
            }
            commit(group)
        }
        writerStopped.signal()
    }

    /// Writes one group as one batch, without fsync, and hands it to the syncer.
    private func commit(_ group: [Request]) {
        let started = DispatchTime.now().uptimeNanoseconds
        let batch = WriteBatch()
        var results: [AppendResult] = []
        results.reserveCapacity(group.count)
        var keysInBatch: [IdempotencyKey: [ULID]] = [:]
        var newLast: ULID?
        var eventCount = 0
        let now = options.clock()
        do {
            for request in group {
                // A replay found here may point at a batch not yet fsync'd: it is acked with
                // this batch, whose fsync comes after, so it is never acked early.
                if let key = request.key, let original = try keysInBatch[key] ?? rememberedIDs(for: key, now: now) {
                    results.append(AppendResult(ids: original, isReplay: true))
                    continue
                }
                var ids: [ULID] = []
                ids.reserveCapacity(request.payloads.count)
                for payload in request.payloads {
                    let id = generator.next()
                    batch.put(LogKeys.event(id), payload, in: events)
                    ids.append(id)
                }
                eventCount += ids.count
                newLast = ids.last
                if let key = request.key {
                    let expiresAt = now + options.idempotencyWindowMilliseconds
                    batch.put(LogKeys.idempotencyRecord(key), LogKeys.encodeIdempotencyValue(expiresAt: expiresAt, ids: ids), in: idempotency)
                    batch.put(LogKeys.idempotencyExpiry(key, expiresAt: expiresAt), [], in: idempotency)
                    keysInBatch[key] = ids
                }
                results.append(AppendResult(ids: ids, isReplay: false))
            }
            try sweepExpiredKeys(now: now, into: batch, keeping: keysInBatch)
            if batch.count > 0 {
                try database.write(batch, sync: false)
            }
        } catch {
            for request in group { request.continuation.resume(throwing: error) }
            return
        }
        let written = Written(requests: group, results: results, last: newLast, events: eventCount, startedNanoseconds: started)
        let wake = syncQueue.withLock { queue -> Bool in
            queue.written.append(written)
            defer { queue.syncerIdle = false }
            return queue.syncerIdle
        }
        if wake { wakeSyncer.signal() }
    }

    // MARK: - The syncer

    private func runSyncer() {
        while true {
            let (batches, stop) = syncQueue.withLock { queue -> ([Written], Bool) in
                if queue.written.isEmpty {
                    queue.syncerIdle = true
                    return ([], queue.stopping)
                }
                defer { queue.written = [] }
                return (queue.written, false)
            }
            if batches.isEmpty {
                if stop { break }
                wakeSyncer.wait()
                continue
            }
            sync(batches)
        }
        syncerStopped.signal()
    }

    /// One fsync for every batch written so far, then the acks, in commit order.
    private func sync(_ batches: [Written]) {
        do {
            try database.syncWAL()
        } catch {
            for batch in batches {
                for request in batch.requests { request.continuation.resume(throwing: error) }
            }
            return
        }
        if let last = batches.lazy.compactMap(\.last).last { publish(last) }
        let finished = DispatchTime.now().uptimeNanoseconds
        for batch in batches {
            options.onCommit?(GroupCommitStatistics(
                appends: batch.requests.count, events: batch.events,
                writeNanoseconds: finished - batch.startedNanoseconds))
            for (request, result) in zip(batch.requests, batch.results) {
                request.continuation.resume(returning: result)
            }
        }
    }

    private func rememberedIDs(for key: IdempotencyKey, now: UInt64) throws -> [ULID]? {
        guard let value = try database.get(LogKeys.idempotencyRecord(key), in: idempotency) else { return nil }
        guard let (expiresAt, ids) = LogKeys.decodeIdempotencyValue(value) else {
            throw StorageError.malformed("idempotency record for \(key.scope)")
        }
        return expiresAt > now ? ids : nil
    }

    /// Deletes expired idempotency keys, at most once a minute and a bounded number at a
    /// time, in the same batch as the commit so the sweep never needs its own fsync.
    private func sweepExpiredKeys(now: UInt64, into batch: WriteBatch, keeping fresh: [IdempotencyKey: [ULID]]) throws {
        guard now >= lastSweep + 60_000 else { return }
        lastSweep = now
        let upper = KeyWriter.build { $0.byte(LogKeys.expiryTag); $0.uint64(now) }
        let iterator = database.makeIterator(over: idempotency, lower: [LogKeys.expiryTag], upper: upper)
        iterator.seekToFirst()
        var swept = 0
        while iterator.isValid && swept < 10_000 {
            let expiryKey = iterator.key
            if let (expiresAt, key) = LogKeys.decodeIdempotencyExpiry(expiryKey) {
                // The key may have been reused after it expired: delete the record only if
                // it is still the one this index row points at.
                let record = try database.get(LogKeys.idempotencyRecord(key), in: idempotency)
                    .flatMap(LogKeys.decodeIdempotencyValue)
                if fresh[key] == nil, record?.expiresAt == expiresAt {
                    batch.delete(LogKeys.idempotencyRecord(key), in: idempotency)
                }
                batch.delete(expiryKey, in: idempotency)
            }
            swept += 1
            iterator.next()
        }
        try iterator.checkError()
    }

    private func publish(_ last: ULID) {
        let ready = published.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.last = last
            var ready: [CheckedContinuation<Void, Never>] = []
            for (token, waiter) in state.waiters where waiter.position.map({ last > $0 }) ?? true {
                ready.append(waiter.continuation)
                state.waiters[token] = nil
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }
}
