import ChatFlowStorage
import Dispatch
import Foundation
import Synchronization

/// Replays the whole change log into fresh generations of some projections and switches
/// over only when every one of them is complete. A failure leaves the live ones untouched.
public struct Rebuilder: Sendable {
    public struct Progress: Sendable {
        public let events: Int
        /// RocksDB's estimate of the log's length (not exact).
        public let estimatedTotal: Int
        public let seconds: Double
    }

    public struct Result: Sendable, Encodable {
        public let events: Int
        public let seconds: Double
        public let eventsPerSecond: Double
        public let projections: [String]
    }

    let log: RocksDBChangeLog
    let store: ProjectionStore
    /// Events per batch. Bigger batches write each row they touch less often (a counter,
    /// a term's open run), up to where a batch's rows no longer fit the caches: 200k events,
    /// all projections, 16,384 was fastest. Search (a row per term per batch, and the costly
    /// lane) takes 4× more: `rebuild --projection search` used 8.5–9.7 s of CPU against
    /// 11.7–13.4 s; more again (262,144) helped search a little more but slowed the rest.
    var batchSize = 16384
    var searchBatchSize = 65536

    public init(log: RocksDBChangeLog, store: ProjectionStore) {
        self.log = log
        self.store = store
    }

    /// Rebuilds the named projections (all when empty) and makes them live.
    public func rebuild(_ names: [String] = [], progress: ((Progress) -> Void)? = nil) throws -> Result {
        let chosen = try choose(names)
        let started = DispatchTime.now().uptimeNanoseconds
        let fresh = try chosen.map { ($0, try store.makeNextGeneration(of: $0.name)) }
        var activated = 0
        do {
            let events = try replay(into: fresh.map { ($0.0, $0.1.family) }, progress: progress, started: started)
            // The new generations were written without the write-ahead log: on disk before live.
            try store.database.flush(fresh.map(\.1.family))
            for (projection, next) in fresh {
                try store.activate(projection.name, generation: next.generation, family: next.family)
                activated += 1
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            return Result(events: events, seconds: seconds, eventsPerSecond: Double(events) / max(seconds, 1e-9), projections: chosen.map(\.name))
        } catch {
            // Those already live stay: they are complete. The rest were never live.
            for (_, next) in fresh.dropFirst(activated) { try? store.discard(next.family) }
            throw error
        }
    }

    /// Applies the whole log to empty `families` through the one apply path; returns the event count.
    ///
    /// The rows skip the write-ahead log (it would write them twice): nothing needs them to
    /// survive a crash until the caller has flushed them and made them live. A crash before
    /// that leaves generations that were never live, dropped at the next open.
    func replay(into families: [(any Projection, ColumnFamily)], progress: ((Progress) -> Void)?, started: UInt64) throws -> Int {
        // After retention the log starts part-way through each chat's history: the
        // projections start from its seed and end pruned at its horizon, as the live ones.
        let retention = try RetentionState.load(from: store.database)
        if let retention {
            let seeds = ProjectionBatch(database: store.database, salt: store.salt)
            for (projection, family) in families {
                try projection.seed(retention, rows: ProjectionRows(batch: seeds, family: family))
            }
            try store.database.writeWithoutLog(seeds.makeWriteBatch())
        }
        // Search costs several times all the others together. Its rows never span chats, so
        // it replays as two halves of the chats, each on a thread of its own, beside a third
        // thread for the rest: on two cores a rebuild takes about half the time of one
        // thread. Each lane reads the log itself and writes only its own rows, except the
        // search checkpoint, which both halves write with the same ids (nothing appends
        // while a rebuild or verify holds the data directory). A lane that fails stops the
        // others at their next batch.
        let lanes = Self.lanes(families)
        let outcomes = Mutex<[Int: Swift.Result<(events: Int, last: ULID?), any Error>]>([:])
        let failed = Atomic(false)
        // Called from the first lane's thread, while this one waits.
        nonisolated(unsafe) let progress = progress
        let done = DispatchGroup()
        for (index, lane) in lanes.enumerated() {
            done.enter()
            Thread.detachNewThread { [self] in
                let outcome = Swift.Result {
                    let size = lane.contains { $0.projection.name == SearchProjection.name } ? searchBatchSize : batchSize
                    return try apply(lane, batchSize: size, progress: index == 0 ? progress : nil, started: started, stopping: { failed.load(ordering: .relaxed) })
                }
                if case .failure = outcome { failed.store(true, ordering: .relaxed) }
                outcomes.withLock { $0[index] = outcome }
                done.leave()
            }
        }
        done.wait()
        let results = outcomes.withLock { outcomes in (0..<lanes.count).map { outcomes[$0]! } }
        // The lane that failed first says why; the others only stopped for it.
        for case .failure(let error) in results where !(error is CancellationError) { throw error }
        let replayed = try results.map { try $0.get() }
        let (events, position) = replayed.first ?? (0, nil)
        if let retention {
            for (projection, family) in families {
                let batch = WriteBatch()
                if let through = retention.removedThrough, position.map({ $0 < through }) ?? true {
                    batch.put(CheckpointKey.bytes, through.bytes, in: family)
                }
                try projection.prune(PruneContext(horizon: retention.horizon, database: store.database, family: family, batch: batch))
                try store.database.writeWithoutLog(batch)
            }
        }
        return events
    }

    /// The targets to replay side by side: search as two halves of the chats, and the rest.
    private static func lanes(_ families: [(any Projection, ColumnFamily)]) -> [[ProjectionApplier.Target]] {
        func target(_ entry: (any Projection, ColumnFamily), _ partition: ChatPartition? = nil) -> ProjectionApplier.Target {
            ProjectionApplier.Target(projection: entry.0, family: entry.1, checkpoint: nil, partition: partition)
        }
        let search = families.filter { $0.0.name == SearchProjection.name }
        let rest = families.filter { $0.0.name != SearchProjection.name }.map { target($0) }
        let halves = (0..<2).map { index in search.map { target($0, ChatPartition(index: index, count: 2)) } }
        return (halves + [rest]).filter { !$0.isEmpty }
    }

    /// Applies the whole log to `targets` in batches; the events read and the last one's id.
    private func apply(_ targets: [ProjectionApplier.Target], batchSize: Int, progress: ((Progress) -> Void)?, started: UInt64, stopping: () -> Bool) throws -> (events: Int, last: ULID?) {
        var applier = ProjectionApplier(database: store.database, salt: store.salt, targets: targets)
        applier.logged = false
        let eventsFamily = try store.database.family(LogKeys.eventsFamily)
        let estimate = Int(store.database.integerProperty("rocksdb.estimate-num-keys", in: eventsFamily) ?? 0)
        var position: ULID?
        var events = 0
        var lastReport = started
        while true {
            guard !stopping() else { throw CancellationError() }
            let records = try log.read(after: position, limit: batchSize)
            guard let last = records.last else { break }
            try applier.apply(records)
            position = last.id
            events += records.count
            let now = DispatchTime.now().uptimeNanoseconds
            if let progress, now - lastReport > 250_000_000 {
                lastReport = now
                progress(Progress(events: events, estimatedTotal: max(estimate, events), seconds: Double(now - started) / 1e9))
            }
        }
        return (events, position)
    }

    private func choose(_ names: [String]) throws -> [any Projection] {
        if names.isEmpty { return ProjectionCatalog.all }
        var seen = Set<String>()
        // A name given twice is one projection to rebuild, once.
        return try names.filter { seen.insert($0).inserted }.map { name in
            guard let projection = ProjectionCatalog.projection(named: name) else {
                throw ChatFlowError.invalid("unknown projection '\(name)'; known: \(ProjectionCatalog.names.joined(separator: ", "))")
            }
            return projection
        }
    }
}
