import ChatFlowStorage

/// What retention has done to a data directory, kept in the projection generations family
/// so that a rebuild can reproduce the pruned projections from the shortened log.
///
/// - `horizon`: messages before it are gone from the projections (or are being removed:
///   it is stored before the projections are pruned, so an interrupted pass is finished).
/// - `logHorizon`: the log no longer holds the events before it, except chats and
///   memberships. Stored in the same batch as the log truncation, with
/// - `messagesBefore`: per chat, how many messages it had before `logHorizon`, so that a
///   rebuild numbers the remaining ones as the live read state does, and
/// - `removedThrough`: the last id the log held before `logHorizon`, which the projections
///   had applied: a rebuild's checkpoints are never behind it, even when nothing after it is left.
public struct RetentionState: Equatable, Sendable {
    public var horizon: ULID
    public var logHorizon: ULID?
    public var removedThrough: ULID?
    public var messagesBefore: [ChatID: UInt64]

    public init(horizon: ULID, logHorizon: ULID?, removedThrough: ULID? = nil, messagesBefore: [ChatID: UInt64] = [:]) {
        self.horizon = horizon
        self.logHorizon = logHorizon
        self.removedThrough = removedThrough
        self.messagesBefore = messagesBefore
    }

    // Rows of `GenerationsKeys` (an id of all zeros stands for none).
    private static let horizonKey = GenerationsKeys.retentionHorizon
    private static let countsPrefix = GenerationsKeys.retentionCounts

    private static func countKey(_ chat: ChatID) -> [UInt8] {
        KeyWriter.build { $0.raw(countsPrefix); $0.chat(chat) }
    }

    /// `horizon` alone, without the per-chat counts: for a check made often.
    public static func horizon(in database: Database) throws -> ULID? {
        let family = try database.family(ProjectionCatalog.generationsFamily)
        guard let value = try database.get(horizonKey, in: family) else { return nil }
        guard value.count == 48, let horizon = ULID(bytes: value[0..<16]) else {
            throw StorageError.malformed("retention horizon of \(value.count) bytes")
        }
        return horizon
    }

    /// The state of `database`, or nil if retention never removed anything.
    public static func load(from database: Database) throws -> RetentionState? {
        let family = try database.family(ProjectionCatalog.generationsFamily)
        guard let value = try database.get(horizonKey, in: family) else { return nil }
        guard value.count == 48, let horizon = ULID(bytes: value[0..<16]), let logHorizon = ULID(bytes: value[16..<32]),
              let removedThrough = ULID(bytes: value[32..<48]) else {
            throw StorageError.malformed("retention horizon of \(value.count) bytes")
        }
        var state = RetentionState(
            horizon: horizon, logHorizon: logHorizon == .zero ? nil : logHorizon,
            removedThrough: removedThrough == .zero ? nil : removedThrough)
        let iterator = database.makeIterator(over: family, lower: countsPrefix, upper: KeyWriter.prefixSuccessor(countsPrefix))
        iterator.seekToFirst()
        while iterator.isValid {
            let chat = KeyReader.read(iterator.key) { reader -> ChatID? in
                _ = reader.byte(); _ = reader.byte()
                return reader.chat()
            }
            let count = KeyReader.read(iterator.value) { $0.uint64() }
            guard let chat, let count else { throw StorageError.malformed("retention count row") }
            state.messagesBefore[chat] = count
            iterator.next()
        }
        try iterator.checkError()
        return state
    }

    /// Adds the writes that store this state (replacing any earlier one) to `batch`.
    func write(into batch: WriteBatch, database: Database) throws {
        let family = try database.family(ProjectionCatalog.generationsFamily)
        batch.put(Self.horizonKey, horizon.bytes + (logHorizon ?? .zero).bytes + (removedThrough ?? .zero).bytes, in: family)
        batch.deleteRange(from: Self.countsPrefix, to: KeyWriter.prefixSuccessor(Self.countsPrefix)!, in: family)
        for (chat, count) in messagesBefore.sorted(by: { $0.key < $1.key }) {
            batch.put(Self.countKey(chat), KeyWriter.build { $0.uint64(count) }, in: family)
        }
    }
}
