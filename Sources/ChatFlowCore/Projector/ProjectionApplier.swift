import ChatFlowStorage

/// The one path by which events reach projections, for tailing and rebuilding alike:
/// decode a run of log records, apply each to every target whose checkpoint is before it,
/// and write all rows together with every target's new checkpoint in one batch.
struct ProjectionApplier {
    struct Target {
        let projection: any Projection
        let family: ColumnFamily
        var checkpoint: ULID?
        /// For a rebuild that splits a projection whose rows never span chats: the share of
        /// chats this target applies (nil: every event).
        var partition: ChatPartition? = nil
    }

    let database: Database
    /// The data directory's `ProjectionStore.salt`.
    let salt: UInt64
    private(set) var targets: [Target]
    /// Called after a batch is built and before it is written; a test makes it throw to
    /// prove that a failure there leaves no partial projection behind.
    var beforeWrite: (() throws -> Void)?
    /// False for families that need not survive a crash until they are flushed (a
    /// rebuild's new generations, live only afterwards): their rows skip the write-ahead log.
    var logged = true

    init(database: Database, salt: UInt64, targets: [Target]) {
        self.database = database
        self.salt = salt
        self.targets = targets
    }

    /// The oldest checkpoint: where reading the log must resume.
    var resumePosition: ULID? {
        var position: ULID? = .max
        for target in targets {
            guard let checkpoint = target.checkpoint else { return nil }
            position = Swift.min(position!, checkpoint)
        }
        return targets.isEmpty ? nil : position
    }

    /// The newest checkpoint: every event up to it had been applied by some projection
    /// before (a projection given a fresh generation starts over while the others are there).
    var furthestPosition: ULID? {
        targets.compactMap(\.checkpoint).max()
    }

    /// Applies `records` (consecutive, in log order) and commits them in one batch.
    /// Returns the decoded events, for whoever delivers them next.
    @discardableResult
    mutating func apply(_ records: [LogRecord]) throws -> [LoggedEvent] {
        guard let last = records.last else { return [] }
        let events = try records.map(LoggedEvent.init)
        let batch = ProjectionBatch(database: database, salt: salt)
        for target in targets {
            let rows = ProjectionRows(batch: batch, family: target.family)
            for event in events where target.checkpoint.map({ event.id > $0 }) ?? true && target.partition?.holds(event) ?? true {
                try target.projection.apply(event, to: rows)
            }
            if target.checkpoint.map({ last.id > $0 }) ?? true {
                rows.put(CheckpointKey.bytes, last.id.bytes)
            }
        }
        try beforeWrite?()
        // Not synced: the log is the durable copy. After a crash the checkpoint and the
        // rows it covers are either both on disk or both gone, and replay fills the gap.
        if logged {
            try database.write(batch.makeWriteBatch(), sync: false)
        } else {
            try database.writeWithoutLog(batch.makeWriteBatch())
        }
        for index in targets.indices where targets[index].checkpoint.map({ last.id > $0 }) ?? true {
            targets[index].checkpoint = last.id
        }
        return events
    }
}
