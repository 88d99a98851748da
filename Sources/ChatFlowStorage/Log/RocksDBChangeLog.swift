import Foundation
import Synchronization

/// The change log on RocksDB, with group commit.
///
/// Appends queue up for one dedicated writer thread. The writer takes everything queued,
/// assigns ids in order, writes one batch with one WAL fsync, then resumes every caller.
/// Ids are assigned at commit time by the only writer, so log order = id order = commit
/// order: a reader that has seen id X can never later find a new record before X.
/// Readers see only what is durable: reads stop at the last fsync'd id.
/// RocksDB calls on the append path run on that thread, never on the caller's.
///
/// Gathering: callers resumed by one commit usually append again at once. When the last
/// commit served many callers, the writer waits a little (at most
/// `ChangeLogOptions.gatherMicroseconds`) for about as many to queue up again, so that one
/// fsync serves them all instead of half of them. With one caller it never waits.
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
        /// While the writer gathers, the queue length that should wake it early.
        var gatherTarget = Int.max
        var stopping = false
    }

    private let queue = Mutex(Queue())
    /// Why the store refused the last group commit, until one succeeds again.
    private let failure = Mutex<String?>(nil)
    /// The last durable id; tailers wait on it.
    public let committed: PositionSignal
    private let wakeWriter = DispatchSemaphore(value: 0)
    private let writerStopped = DispatchSemaphore(value: 0)
    // Touched only by the writer thread.
    nonisolated(unsafe) private var generator: ULIDGenerator
    /// One batch, cleared and refilled by every commit, and the queue's array handed back
    /// empty: their memory is kept, so a commit allocates little (large allocations make
    /// glibc consolidate its free lists, which showed in profiles of the writer).
    nonisolated(unsafe) private var batch = WriteBatch()
    nonisolated(unsafe) private var spare: [Request] = []
    /// Where the next sweep of expired keys starts: past the rows swept before, whose
    /// deletions a seek from the start would walk again until compaction drops them.
    nonisolated(unsafe) private var sweepFrom: [UInt8] = [LogKeys.expiryTag]
    /// When the first key left expires (0: not looked yet; `.max`: no key left).
    nonisolated(unsafe) private var nextExpiry: UInt64 = 0
    /// A write failed for lack of space, and RocksDB takes none until the database resumes.
    private let waitingForSpace = Atomic<Bool>(false)
    /// When the writer last tried to resume it (milliseconds by the log's clock).
    nonisolated(unsafe) private var lastResumeAttempt: UInt64 = 0

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
        committed = PositionSignal(last)
        generator = ULIDGenerator(clock: options.clock, random: options.random)
        generator.resume(after: last)
        if !database.isReadOnly {
            let thread = Thread { [unowned self] in
                // Set from the thread itself, the name reaches the OS (`top -H`, `perf`,
                // /proc): at most 15 bytes there.
                Thread.current.name = "chatflow-log"
                self.runWriter()
            }
            thread.start()
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
        }
        committed.close()
    }

    // MARK: - ChangeLog

    public func append(_ payloads: [[UInt8]], idempotencyKey: IdempotencyKey?) async throws -> AppendResult {
        guard !database.isReadOnly else { throw StorageError.readOnly }
        // No events and a key: the key alone is recorded, for a write that changed nothing.
        guard !payloads.isEmpty || idempotencyKey != nil else { return AppendResult(ids: [], isReplay: false) }
        return try await withCheckedThrowingContinuation { continuation in
            let request = Request(payloads: payloads, key: idempotencyKey, continuation: continuation)
            let (accepted, wake) = queue.withLock { queue -> (Bool, Bool) in
                guard !queue.stopping else { return (false, false) }
                queue.pending.append(request)
                if queue.writerIdle {
                    queue.writerIdle = false
                    return (true, true)
                }
                if queue.pending.count == queue.gatherTarget {
                    queue.gatherTarget = .max
                    return (true, true)
                }
                return (true, false)
            }
            if !accepted { continuation.resume(throwing: StorageError.closed) }
            if wake { wakeWriter.signal() }
        }
    }

    public func read(after position: ULID?, limit: Int) throws -> [LogRecord] {
        guard let iterator = durableRecords(after: position) else { return [] }
        var records: [LogRecord] = []
        records.reserveCapacity(Swift.min(limit, 1024))
        while iterator.isValid && records.count < limit {
            guard let id = iterator.withKey({ ULID(bytes: $0) }) else {
                throw StorageError.malformed("log key of \(iterator.key.count) bytes, expected 16")
            }
            records.append(LogRecord(id: id, payload: iterator.value))
            iterator.next()
        }
        try Self.checkLogError(iterator)
        return records
    }

    /// An iterator's error; damage met reading the log's rows is the log's (not a
    /// projection's, which a rebuild would mend).
    private static func checkLogError(_ iterator: KeyValueIterator) throws(StorageError) {
        do {
            try iterator.checkError()
        } catch .corrupt(_, let detail) {
            throw .damagedLog(detail: detail)
        }
    }

    // MARK: - Retention

    /// Removes every record in `[lower, horizon)` except those `keep` accepts, in one synced
    /// batch with `alongWith`'s writes: one range delete over those ids, and the kept
    /// records put back above it (a put after a range delete in the same batch survives it).
    /// Kept records keep their ids, so the log stays in id order. Returns how many records
    /// were removed. The horizon must be at or before the last durable id; new appends are
    /// never below it, so they are not affected. Records before `lower` (those an earlier
    /// truncation kept) are not read again.
    @discardableResult
    public func truncate(from lower: ULID = .zero, before horizon: ULID, keep: (LogRecord) throws -> Bool, alongWith: (WriteBatch) throws -> Void = { _ in }) throws -> Int {
        guard !database.isReadOnly else { throw StorageError.readOnly }
        let iterator = database.makeIterator(over: events, lower: lower.bytes, upper: horizon.bytes, fillCache: false)
        iterator.seekToFirst()
        var kept: [LogRecord] = []
        var removed = 0
        while iterator.isValid {
            guard let id = iterator.withKey({ ULID(bytes: $0) }) else {
                throw StorageError.malformed("log key of \(iterator.key.count) bytes, expected 16")
            }
            let record = LogRecord(id: id, payload: iterator.value)
            if try keep(record) { kept.append(record) } else { removed += 1 }
            iterator.next()
        }
        try iterator.checkError()
        let batch = WriteBatch()
        if lower < horizon { batch.deleteRange(from: lower.bytes, to: horizon.bytes, in: events) }
        for record in kept { batch.put(LogKeys.event(record.id), record.payload, in: events) }
        try alongWith(batch)
        try database.write(batch, sync: true)
        return removed
    }

    /// Reads every event and idempotency record once, which checks each block holding them
    /// against its checksum: a log damaged on disk says so here (`StorageError.damagedLog`)
    /// rather than when a read first meets the damage. Records retention removed are read
    /// too while their tables remain: compaction would meet the damage there. Returns the
    /// number of event records read.
    @discardableResult
    public func checkBlocks() throws -> Int {
        var events = 0
        for family in [self.events, idempotency] {
            let iterator = database.makeIterator(over: family, fillCache: false, includingRangeDeleted: true)
            iterator.seekToFirst()
            while iterator.isValid {
                if family === self.events { events += 1 }
                iterator.next()
            }
            try Self.checkLogError(iterator)
        }
        return events
    }

    /// The durable record `id`, if the log holds it.
    public func record(_ id: ULID) throws -> LogRecord? {
        guard let durable = lastPosition, id <= durable else { return nil }
        return try database.get(LogKeys.event(id), in: events).map { LogRecord(id: id, payload: $0) }
    }

    /// The id of the record `count` records on from `position` (0: the first after it), or
    /// nil when the log ends sooner. Reads keys only.
    public func id(after position: ULID?, skipping count: Int) throws -> ULID? {
        guard let iterator = durableRecords(after: position, fillCache: false) else { return nil }
        var skipped = 0
        while iterator.isValid && skipped < count {
            iterator.next()
            skipped += 1
        }
        let id = iterator.isValid ? iterator.withKey { ULID(bytes: $0) } : nil
        try iterator.checkError()
        return id
    }

    /// An iterator on the first record after `position`, bounded by the last durable id
    /// (nothing is visible before it is durable); nil when there is no such record.
    private func durableRecords(after position: ULID?, fillCache: Bool = true) -> KeyValueIterator? {
        guard let durable = lastPosition, position.map({ $0 < durable }) ?? true else { return nil }
        let lower = position.map { $0.successor?.bytes ?? ULID.max.bytes } ?? []
        let iterator = database.makeIterator(over: events, lower: lower, upper: durable.successor?.bytes, fillCache: fillCache)
        iterator.seekToFirst()
        return iterator
    }

    /// The id of the last record before `position`, if any.
    public func lastID(before position: ULID) throws -> ULID? {
        let iterator = database.makeIterator(over: events, upper: position.bytes, fillCache: false)
        iterator.seekToLast()
        let id = iterator.isValid ? iterator.withKey { ULID(bytes: $0) } : nil
        try iterator.checkError()
        return id
    }

    public var lastPosition: ULID? { committed.position }

    /// Why the store refused the last appends, while it does: they failed although the
    /// disk guard let them through (a write error, out of descriptors), and a RocksDB
    /// database does not take writes again until it is reopened.
    public var writeFailure: String? { failure.withLock { $0 } }

    /// The free-space check appends go through, if configured.
    public var diskGuard: DiskSpaceGuard? { options.diskGuard }

    public func waitForCommit(after position: ULID?) async {
        await committed.wait(after: position)
    }

    // MARK: - The writer

    private func runWriter() {
        var lastGroup = 0
        var previousCommitEnd: UInt64?
        while true {
            var (group, stop) = takeGroup(expecting: lastGroup)
            if group.isEmpty {
                if stop { break }
                if isWaitingForSpace {
                    // No append comes to resume the store with: try once a second, so that
                    // readiness and writes come back once the disk has room.
                    _ = wakeWriter.wait(timeout: .now() + 1)
                    try? resumeAfterRunningOutOfSpace(now: options.clock())
                } else {
                    wakeWriter.wait()
                }
                continue
            }
            lastGroup = group.count
            previousCommitEnd = commit(group, gatheredSince: previousCommitEnd)
            swap(&spare, &group)
            spare.removeAll(keepingCapacity: true)
        }
        options.onWriterStopped?()
        writerStopped.signal()
    }

    /// Takes the next group; with an empty queue returns none and marks the writer idle.
    /// When `expecting` callers were just resumed and fewer are queued, waits for them to
    /// come back, up to the gather time.
    private func takeGroup(expecting: Int) -> ([Request], Bool) {
        let target = Swift.min(expecting, options.maxGroupSize)
        let deadline = DispatchTime.now() + .microseconds(options.gatherMicroseconds)
        while true {
            let (group, stop, gather) = queue.withLock { queue -> ([Request], Bool, Bool) in
                if queue.pending.isEmpty {
                    queue.writerIdle = true
                    return ([], queue.stopping, false)
                }
                if queue.pending.count < target && !queue.stopping && DispatchTime.now() < deadline {
                    queue.gatherTarget = target
                    return ([], false, true)
                }
                queue.gatherTarget = .max
                var group: [Request] = []
                if queue.pending.count <= options.maxGroupSize {
                    swap(&spare, &queue.pending)
                    swap(&group, &spare)
                } else {
                    group = Array(queue.pending.prefix(options.maxGroupSize))
                    queue.pending.removeFirst(options.maxGroupSize)
                }
                return (group, false, false)
            }
            guard gather else { return (group, stop) }
            _ = wakeWriter.wait(timeout: deadline)
        }
    }

    /// After a write failed for lack of space, asks RocksDB to take writes again, at most
    /// once a second (each try flushes what it can); RocksDB would try by itself only once a
    /// whole write buffer is free. Throws while it cannot.
    private func resumeAfterRunningOutOfSpace(now: UInt64) throws(StorageError) {
        guard isWaitingForSpace else { return }
        let waiting = StorageError.noSpace(detail: "the disk filled up under a write; the store takes writes again once the disk has room")
        guard now >= lastResumeAttempt + 1000 || now < lastResumeAttempt else { throw waiting }
        lastResumeAttempt = now
        // Busy while RocksDB's own recovery waits for room: that is the same wait.
        do { try database.resume() } catch { throw waiting }
        noteWaitingForSpace(false)
    }

    /// Notes that the store takes no writes until it has room (a write of its own, or of the
    /// projections, failed for lack of space), or that it takes them again; says so once.
    /// The writer then tries to resume the store, with the next append or, idle, once a second.
    public func noteWaitingForSpace(_ waiting: Bool) {
        if waitingForSpace.exchange(waiting, ordering: .acquiringAndReleasing) != waiting {
            options.onWaitingForSpace?(waiting)
            if waiting { wakeWriter.signal() }
        }
    }

    /// Whether a write failed for lack of space and the store takes none until it has room
    /// (faster than the disk guard, the disk filled up under a write).
    public var isWaitingForSpace: Bool { waitingForSpace.load(ordering: .acquiring) }

    /// Commits `group` and resumes its callers; returns when it finished. The group was
    /// gathering since the previous commit ended (the first group: not at all).
    private func commit(_ group: [Request], gatheredSince previousCommitEnd: UInt64?) -> UInt64 {
        let taken = DispatchTime.now().uptimeNanoseconds
        batch.clear()
        var results: [AppendResult] = []
        results.reserveCapacity(group.count)
        var keysInBatch: [IdempotencyKey: (ids: [ULID], fingerprint: UInt64?)] = [:]
        var firstAddedExpiry = UInt64.max
        var newLast: ULID?
        var eventCount = 0
        var (prepared, written): (UInt64, UInt64) = (0, 0)
        let now = options.clock()
        // The sweep moves on as it adds deletes to the batch: a batch that fails to commit
        // deleted nothing, and the next one sweeps from where this one began.
        let sweep = (from: sweepFrom, nextExpiry: nextExpiry)
        do {
            // Refused before any id is taken: a full disk fails the appends, never the database.
            try options.diskGuard?.check()
            try resumeAfterRunningOutOfSpace(now: now)
            for request in group {
                if let key = request.key, let original = try keysInBatch[key] ?? remembered(key, now: now) {
                    // Told apart only when both requests were fingerprinted.
                    let reused = original.fingerprint.map { stored in key.fingerprint.map { $0 != stored } ?? false } ?? false
                    results.append(AppendResult(ids: original.ids, isReplay: true, isReusedKey: reused))
                    continue
                }
                if let key = request.key, try key.siblings.contains(where: { try keysInBatch[$0] != nil || remembered($0, now: now) != nil }) {
                    results.append(AppendResult(ids: [], isReplay: true, isReusedKey: true))
                    continue
                }
                var ids: [ULID] = []
                ids.reserveCapacity(request.payloads.count)
                for payload in request.payloads {
                    let id = generator.next()
                    LogKeys.withEventKey(id) { batch.put($0, payload, in: events) }
                    ids.append(id)
                }
                eventCount += ids.count
                if let last = ids.last { newLast = last }
                if let key = request.key {
                    let expiresAt = now + options.idempotencyWindowMilliseconds
                    firstAddedExpiry = min(firstAddedExpiry, expiresAt)
                    batch.put(LogKeys.idempotencyRecord(key), LogKeys.encodeIdempotencyValue(expiresAt: expiresAt, ids: ids), in: idempotency)
                    batch.put(LogKeys.idempotencyExpiry(key, expiresAt: expiresAt), [], in: idempotency)
                    // Put or cleared: a row left by the key's last use must not judge this one.
                    if let fingerprint = key.fingerprint {
                        batch.put(LogKeys.idempotencyFingerprint(key), LogKeys.encodeFingerprint(fingerprint), in: idempotency)
                    } else {
                        batch.delete(LogKeys.idempotencyFingerprint(key), in: idempotency)
                    }
                    keysInBatch[key] = (ids, key.fingerprint)
                }
                results.append(AppendResult(ids: ids, isReplay: false))
            }
            try sweepExpiredKeys(now: now, into: batch, keeping: keysInBatch, limit: 2 * keysInBatch.count + 64)
            // After the sweep, which sees only rows already written.
            nextExpiry = min(nextExpiry, firstAddedExpiry)
            // One write, one fsync: the records become visible and durable together.
            prepared = DispatchTime.now().uptimeNanoseconds
            if batch.count > 0 {
                do {
                    try database.write(batch, sync: true)
                } catch {
                    // The disk filled up between two samples of the guard.
                    if case .noSpace = error { noteWaitingForSpace(true) }
                    throw error
                }
            }
            written = DispatchTime.now().uptimeNanoseconds
        } catch {
            // The disk guard's refusals are its own to report. RocksDB, once a write of its
            // log failed, refuses every later one until the database is opened again.
            if case StorageError.noSpace? = error as? StorageError {} else { failure.withLock { $0 = "\(error)" } }
            (sweepFrom, nextExpiry) = sweep
            for request in group { request.continuation.resume(throwing: error) }
            return DispatchTime.now().uptimeNanoseconds
        }
        failure.withLock { if $0 != nil { $0 = nil } }
        if let newLast { committed.publish(newLast) }
        for (request, result) in zip(group, results) {
            request.continuation.resume(returning: result)
        }
        let finished = DispatchTime.now().uptimeNanoseconds
        options.onCommit?(GroupCommitStatistics(
            appends: group.count, events: eventCount, writeNanoseconds: written - prepared,
            gatherNanoseconds: taken - (previousCommitEnd ?? taken), prepareNanoseconds: prepared - taken,
            resumeNanoseconds: finished - written))
        return finished
    }

    /// What an append with `key` returned, if one was committed within the window: its ids,
    /// marked as a replay, and as a reused key when the request differs. Lets a caller
    /// answer a retry before checking the request again against a state it has changed.
    public func rememberedResult(for key: IdempotencyKey) throws -> AppendResult? {
        let now = options.clock()
        guard let original = try remembered(key, now: now) else {
            let taken = try key.siblings.contains { try remembered($0, now: now) != nil }
            return taken ? AppendResult(ids: [], isReplay: true, isReusedKey: true) : nil
        }
        let reused = original.fingerprint.map { stored in key.fingerprint.map { $0 != stored } ?? false } ?? false
        return AppendResult(ids: original.ids, isReplay: true, isReusedKey: reused)
    }

    private func remembered(_ key: IdempotencyKey, now: UInt64) throws -> (ids: [ULID], fingerprint: UInt64?)? {
        guard let value = try database.get(LogKeys.idempotencyRecord(key), in: idempotency) else { return nil }
        guard let (expiresAt, ids) = LogKeys.decodeIdempotencyValue(value) else {
            throw StorageError.malformed("idempotency record for \(key.scope)")
        }
        guard expiresAt > now else { return nil }
        // Only a fingerprinted request needs the first one's to compare with.
        guard key.fingerprint != nil, let stored = try database.get(LogKeys.idempotencyFingerprint(key), in: idempotency) else {
            return (ids, nil)
        }
        guard let fingerprint = LogKeys.decodeFingerprint(stored) else {
            throw StorageError.malformed("idempotency fingerprint for \(key.scope)")
        }
        return (ids, fingerprint)
    }

    /// Deletes expired idempotency keys, in the same batch as the commit so the sweep never
    /// needs its own fsync: at most `limit`, which outpaces the keys the commit adds (a
    /// sweep of 10,000 once a minute fell behind from 167 keyed writes a second, and the
    /// keys piled up for good), and keeps each commit's share small. Nothing is read
    /// until the first key left is due.
    private func sweepExpiredKeys(now: UInt64, into batch: WriteBatch, keeping fresh: [IdempotencyKey: (ids: [ULID], fingerprint: UInt64?)], limit: Int) throws {
        guard now >= nextExpiry else { return }
        let iterator = database.makeIterator(over: idempotency, lower: sweepFrom, upper: [LogKeys.expiryTag + 1])
        iterator.seekToFirst()
        var swept = 0
        nextExpiry = .max
        while iterator.isValid {
            let expiryKey = iterator.key
            // A row no key can be read from is passed over, as it always was: a write must
            // not fail on it.
            if let (expiresAt, key) = LogKeys.decodeIdempotencyExpiry(expiryKey) {
                guard expiresAt <= now, swept < limit else {
                    // Not due yet, or the next commit's share.
                    nextExpiry = swept < limit ? expiresAt : now
                    break
                }
                // The key may have been reused after it expired: delete the record only if
                // it is still the one this index row points at.
                let record = try database.get(LogKeys.idempotencyRecord(key), in: idempotency)
                    .flatMap(LogKeys.decodeIdempotencyValue)
                if fresh[key] == nil, record?.expiresAt == expiresAt {
                    batch.delete(LogKeys.idempotencyRecord(key), in: idempotency)
                    batch.delete(LogKeys.idempotencyFingerprint(key), in: idempotency)
                }
                batch.delete(expiryKey, in: idempotency)
                swept += 1
            }
            sweepFrom = expiryKey + [0]
            iterator.next()
        }
        try iterator.checkError()
    }
}
