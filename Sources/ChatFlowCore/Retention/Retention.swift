import ChatFlowStorage
import Dispatch

/// Removes history older than a number of days: the messages, edits, deletes, reactions
/// and read-marker moves before the horizon leave the log (one range delete) and the
/// projections (range deletes on their id-ordered keys). Chats and memberships stay,
/// whatever their age: they are state, not history.
///
/// A pass records the horizon first, prunes each projection while the projector pauses
/// between batches, then shortens the log in one synced batch together with the numbers a
/// rebuild needs; an interrupted pass is finished by the next. Appends never wait for it.
///
/// A pass removes at most `maxEventsPerPass` events of the log: a deployment that turns
/// retention on over years of history gets there in many short passes (each a horizon of
/// its own, a little further on), so the projector is never held for long and a pass's
/// deletions stay small in memory. `Report.more` says when the horizon is not reached yet.
public struct Retention: Sendable {
    public struct Report: Sendable, Encodable, Equatable {
        public enum Outcome: String, Sendable, Encodable {
            /// Nothing older than the horizon is left.
            case upToDate
            /// The projector has not applied everything before the horizon yet.
            case projectorBehind
            case pruned
        }

        public let outcome: Outcome
        /// The horizon's time in milliseconds (everything before it is gone).
        public let horizonMilliseconds: UInt64
        public let eventsRemoved: Int
        /// The pass stopped short of the horizon: run again for the rest.
        public var more = false
    }

    public let days: Int
    public let maxEventsPerPass: Int
    let log: RocksDBChangeLog
    let store: ProjectionStore
    let projector: Projector

    public init(days: Int, log: RocksDBChangeLog, store: ProjectionStore, projector: Projector, maxEventsPerPass: Int = 20_000) {
        precondition(maxEventsPerPass > 0, "a pass must be allowed to remove something")
        self.days = days
        self.maxEventsPerPass = maxEventsPerPass
        self.log = log
        self.store = store
        self.projector = projector
    }

    /// Events that stay in the log past the horizon: what every chat and membership is.
    static func isState(_ record: LogRecord) throws -> Bool {
        switch try LoggedEvent(record).event.kind {
        case .chatCreated, .chatUpdated, .memberJoined, .memberLeft: true
        case .messagePosted, .messageEdited, .messageDeleted, .reactionAdded, .reactionRemoved, .readMarkerMoved: false
        }
    }

    /// One pass with the clock at `now` (Unix milliseconds). Blocking: call it off the
    /// event loops and the cooperative pool.
    ///
    /// With `days` 0 (keep everything) it only finishes a pass a crash interrupted: that
    /// one's projections may be pruned part way, and they and the log agree again only
    /// once it is done.
    public func run(now: UInt64) throws -> Report {
        let keep = UInt64(days) * 86_400_000
        let database = store.database
        let stored = try RetentionState.load(from: database)
        let interrupted = stored.map { $0.horizon != $0.logHorizon } ?? false
        guard interrupted || (days > 0 && now > keep) else { return Report(outcome: .upToDate, horizonMilliseconds: 0, eventsRemoved: 0) }
        let logHorizon = stored?.logHorizon ?? .zero
        let horizon: ULID
        let target: ULID
        if let stored, interrupted {
            // An interrupted pass (projections pruned further than the log) is finished first.
            horizon = stored.horizon
            target = days > 0 ? Swift.max(horizon, ULID.first(atMillisecond: now > keep ? now - keep : 0)) : horizon
        } else {
            target = ULID.first(atMillisecond: now - keep)
            guard try hasHistory(from: logHorizon, before: target) else {
                return Report(outcome: .upToDate, horizonMilliseconds: target.timestamp, eventsRemoved: 0)
            }
            horizon = try stepHorizon(from: logHorizon, toward: target)
        }
        let more = horizon < target
        let report = { (outcome: Report.Outcome, removed: Int) in
            Report(outcome: outcome, horizonMilliseconds: horizon.timestamp, eventsRemoved: removed, more: outcome == .pruned && more)
        }
        let boundary = try log.lastID(before: horizon)
        if let boundary, (projector.applied.position ?? .zero) < boundary {
            return report(.projectorBehind, 0)
        }
        let readState = ReadStateProjection()
        let removed = try projector.exclusively { () throws -> Int in
            var state = stored ?? RetentionState(horizon: horizon, logHorizon: nil)
            state.horizon = horizon
            let record = WriteBatch()
            try state.write(into: record, database: database)
            try database.write(record, sync: true)

            for projection in ProjectionCatalog.all {
                let batch = WriteBatch()
                try projection.prune(PruneContext(horizon: horizon, database: database, family: store.family(of: projection.name), batch: batch))
                try database.write(batch, sync: false)
            }

            state.logHorizon = horizon
            state.removedThrough = Swift.max(boundary ?? .zero, state.removedThrough ?? .zero)
            state.messagesBefore = try readState.messagesBefore(horizon, in: PruneContext(
                horizon: horizon, database: database, family: store.family(of: ReadStateProjection.name), batch: WriteBatch()))
                .filter { $0.value > 0 }
            return try log.truncate(from: logHorizon, before: horizon, keep: Self.isState) { batch in
                try state.write(into: batch, database: database)
            }
        }
        return report(.pruned, removed)
    }

    /// The horizon of this pass: `target`, or where `maxEventsPerPass` records from `lower`
    /// end when there are more before it (the id of the first record left).
    private func stepHorizon(from lower: ULID, toward target: ULID) throws -> ULID {
        let position = lower == .zero ? nil : try log.lastID(before: lower)
        guard let end = try log.id(after: position, skipping: maxEventsPerPass) else { return target }
        return Swift.min(end, target)
    }

    /// Whether the log holds history (not chats or memberships) in `[from, before)`.
    private func hasHistory(from lower: ULID, before upper: ULID) throws -> Bool {
        guard lower < upper else { return false }
        // Reads go after a position: start from the record before `lower`, so it is included.
        var position = lower == .zero ? nil : try log.lastID(before: lower)
        while true {
            let records = try log.read(after: position, limit: 256)
            guard let last = records.last else { return false }
            for record in records {
                if record.id >= upper { return false }
                if record.id >= lower, try !Self.isState(record) { return true }
            }
            position = last.id
        }
    }
}
