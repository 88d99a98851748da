import ChatFlowStorage
import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps every projection current by tailing the change log: woken by each commit, it
/// reads what is new in batches, applies it through the one apply path, and publishes
/// "applied up to X" — which write requests wait on (read-your-writes) and which feeds
/// live delivery, after projection, through `subscribe()`.
public final class Projector: Service, Sendable {
    public let log: RocksDBChangeLog
    public let store: ProjectionStore
    /// The last event every projection has applied.
    public let applied: PositionSignal
    private let batchSize: Int
    private let logger: Logger
    private let applier: Mutex<ProjectionApplier>
    /// Each projection's checkpoint as of the last batch, kept apart from the applier: its
    /// lock is held while a batch is applied or retention prunes (seconds, at times), and a
    /// metrics scrape must not wait that long on a thread of the server's pool.
    private let published: Mutex<[String: ULID?]>
    // RocksDB work runs here, off the cooperative pool and off any event loop.
    private let queue = DispatchQueue(label: "chatflow.projector")
    private let listeners = Mutex<[UUID: Listener]>([:])

    /// A subscriber: handed each batch (after preparing it), finished when the projector stops.
    private struct Listener {
        let hear: @Sendable ([LoggedEvent]) -> Void
        let finish: @Sendable () -> Void
    }

    public init(log: RocksDBChangeLog, store: ProjectionStore, batchSize: Int = 1024, logger: Logger = Logger(label: "chatflow.projector")) throws {
        self.log = log
        self.store = store
        self.batchSize = batchSize
        self.logger = logger
        let targets = try ProjectionCatalog.all.map { projection in
            ProjectionApplier.Target(
                projection: projection, family: store.family(of: projection.name),
                checkpoint: try store.checkpoint(of: projection.name))
        }
        let applier = ProjectionApplier(database: store.database, salt: store.salt, targets: targets)
        applied = PositionSignal(applier.resumePosition)
        published = Mutex(Self.checkpoints(of: applier))
        self.applier = Mutex(applier)
        startPosition = log.lastPosition
    }

    /// The end of the log when the projector was opened. Until every projection reaches it,
    /// they lack writes acknowledged before the start (a projection with a new version
    /// starts over from the beginning of the log), and reads would answer from them.
    public let startPosition: ULID?

    /// Whether every projection has applied what was in the log at the start. Once true,
    /// stays true: lag under load later is not a reason to refuse reads.
    public var hasReachedStart: Bool {
        guard let startPosition else { return true }
        return applied.position.map { $0 >= startPosition } ?? false
    }

    /// How far each projection has applied, by name, as of the last batch; never waits for
    /// the one being applied.
    public var checkpoints: [String: ULID?] {
        published.withLock { $0 }
    }

    private static func checkpoints(of applier: ProjectionApplier) -> [String: ULID?] {
        Dictionary(uniqueKeysWithValues: applier.targets.map { ($0.projection.name, $0.checkpoint) })
    }

    /// True when every projection has applied the whole log.
    public var isCaughtUp: Bool {
        guard let last = log.lastPosition else { return true }
        return applied.position.map { $0 >= last } ?? false
    }

    /// How long the oldest event the projections have yet to apply has been in the log, in
    /// milliseconds (by its id's time, against `now`, Unix milliseconds); zero when they have
    /// applied it all. Under a steady stream of writes they are always a batch behind, for a
    /// few milliseconds: that is not lagging. A projector that stopped moving is, however
    /// little was written since.
    public func lagMilliseconds(now: UInt64) throws -> UInt64 {
        let position = applied.position
        guard let last = log.lastPosition, position.map({ $0 < last }) ?? true,
              let next = try log.read(after: position, limit: 1).first else { return 0 }
        return now > next.id.timestamp ? now - next.id.timestamp : 0
    }

    // MARK: - Running

    public func run() async throws {
        // Also when tailing fails: whoever waits on the position or listens is let go.
        defer { stopped() }
        try await cancelWhenGracefulShutdown {
            try await self.tail()
        }
    }

    private func stopped() {
        applied.close()
        // Finished outside the lock: finishing may run a stream's termination handler at
        // once, and that handler takes the same lock to forget its listener.
        let listening = listeners.withLock { listeners in
            defer { listeners = [:] }
            return Array(listeners.values)
        }
        for listener in listening { listener.finish() }
    }

    private func tail() async throws {
        var waitingForSpace = false
        while !Task.isCancelled {
            let applied: Int
            do {
                applied = try await onQueue { try self.applyNextBatch() }
            } catch let error as StorageError {
                // The disk filled up under a write (faster than the disk guard samples): RocksDB
                // takes no write until it has room again and resumes by itself. Nothing of the
                // batch was written; reads go on, and the projections try again rather than
                // stop the server.
                guard case .noSpace = error else { throw error }
                // The store as a whole waits: readiness says so, and the log's writer resumes it.
                log.noteWaitingForSpace(true)
                if !waitingForSpace {
                    logger.error("projections paused: \(error.description); they go on by themselves once space is freed")
                    waitingForSpace = true
                }
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if waitingForSpace {
                logger.notice("projections going on: the store takes writes again")
                waitingForSpace = false
            }
            if applied == 0 {
                await log.waitForCommit(after: self.applied.position)
            }
        }
    }

    /// Applies everything committed so far, synchronously; for commands that run without
    /// a server (verify, tests). Returns the number of events applied.
    @discardableResult
    public func catchUp() throws -> Int {
        var total = 0
        while true {
            let count = try applyNextBatch()
            if count == 0 { return total }
            total += count
        }
    }

    private func applyNextBatch() throws -> Int {
        try applier.withLock { applier -> Int in
            let seenBefore = applier.furthestPosition
            let records = try log.read(after: applier.resumePosition, limit: batchSize)
            let events = try applier.apply(records)
            guard let last = events.last else { return 0 }
            published.withLock { $0 = Self.checkpoints(of: applier) }
            applied.publish(last.id)
            // Listeners hear of each event once, as it first becomes visible. Events a
            // projection catching up from the start applies again were applied (and
            // delivered) long ago, and events already in the log at the start are history
            // that clients resume with `since`: a live client must not get them as new.
            // Heard holding the applier: what a listener reads of the projections while
            // preparing the batch is as of its end, with no later batch applied yet.
            let seen = [seenBefore, startPosition].compactMap { $0 }.max()
            let fresh = seen.map { seen in events.filter { $0.id > seen } } ?? events
            if !fresh.isEmpty {
                let listeners = self.listeners.withLock { Array($0.values) }
                for listener in listeners { listener.hear(fresh) }
            }
            return events.count
        }
    }

    /// Runs `body` while no batch is being applied, on the calling thread. Retention uses
    /// it to prune rows the projector would otherwise write concurrently.
    public func exclusively<T>(_ body: () throws -> T) throws -> T {
        try applier.withLock { _ in try body() }
    }

    private func onQueue<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }

    // MARK: - Waiting and listening

    /// Returns once every projection has applied `id`. Throws if the projector stops first,
    /// or the caller is cancelled, unless `cancellable` is false: then only the projector
    /// stopping cuts the wait short.
    public func waitUntilApplied(_ id: ULID, cancellable: Bool = true) async throws {
        await applied.wait(reaching: id, cancellable: cancellable)
        guard let position = applied.position, position >= id else {
            throw ChatFlowError.unavailable("the server is shutting down")
        }
    }

    /// Every batch of events from now on, right after the projections applied it.
    /// The stream buffers without bound: consumers must keep up or bound themselves.
    public func subscribe() -> AsyncStream<[LoggedEvent]> {
        subscribe(preparing: { $0 })
    }

    /// Every batch from now on, as `prepare` makes it: called on the projector's queue right
    /// after the projections applied the batch and before they apply the next, so that what
    /// it reads of them is as of the batch's end (who was a member when it was posted). It
    /// holds the projector back while it runs.
    public func subscribe<Prepared: Sendable>(preparing prepare: @escaping @Sendable ([LoggedEvent]) -> Prepared) -> AsyncStream<Prepared> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Prepared>.makeStream()
        continuation.onTermination = { [weak self] _ in
            _ = self?.listeners.withLock { $0.removeValue(forKey: id) }
        }
        listeners.withLock { $0[id] = Listener(hear: { continuation.yield(prepare($0)) }, finish: { continuation.finish() }) }
        return stream
    }
}
