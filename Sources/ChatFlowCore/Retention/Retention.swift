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
    }

    public let days: Int
    let log: RocksDBChangeLog
    let store: ProjectionStore
    let projector: Projector

    public init(days: Int, log: RocksDBChangeLog, store: ProjectionStore, projector: Projector) {
        self.days = days
        self.log = log
        self.store = store
        self.projector = projector
    }

    /// Events that stay in the log past the horizon: what every chat and membership is.
    static func isState(_ record: LogRecord) throws -> Bool {
        switch try EventCodec.decode(record.payload).event.kind {
        case .chatCreated, .chatUpdated, .memberJoined, .memberLeft: true
        case .messagePosted, .messageEdited, .messageDeleted, .reactionAdded, .reactionRemoved, .readMarkerMoved: false
        }
    }

    /// One pass with the clock at `now` (Unix milliseconds). Blocking: call it off the
    /// event loops and the cooperative pool.
    public func run(now: UInt64) throws -> Report {
        let keep = UInt64(days) * 86_400_000
        guard now > keep else { return Report(outcome: .upToDate, horizonMilliseconds: 0, eventsRemoved: 0) }
        let database = store.database
        let stored = try RetentionState.load(from: database)
        // An interrupted pass (projections pruned further than the log) is finished first.
        let horizon = Swift.max(ULID.first(atMillisecond: now - keep), stored?.horizon ?? .zero)
        let report = { (outcome: Report.Outcome, removed: Int) in
            Report(outcome: outcome, horizonMilliseconds: horizon.timestamp, eventsRemoved: removed)
        }
        guard try hasHistory(from: stored?.logHorizon ?? .zero, before: horizon) || stored.map({ $0.horizon != $0.logHorizon }) ?? false else {
            return report(.upToDate, 0)
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
            return try log.truncate(before: horizon, keep: Self.isState) { batch in
                try state.write(into: batch, database: database)
            }
        }
        return report(.pruned, removed)
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
