import ChatFlowStorage

/// Event ids a data directory may have given out and then lost to a restore from an older
/// backup (from the backup's last event to the moment of the restore) or to damage in its
/// write-ahead log (from the last event kept to the opening that found it). A client holding
/// one saw a history the log no longer has, so a WebSocket resume after it is refused
/// (`unknown_since`) and the client reloads, rather than keep showing events that are gone.
/// `chatflow restore` records one gap per restore, `ChatFlowEngine` one per damage found;
/// they live in the projection generations family, so a backup carries them on.
public enum RestoreGaps {
    /// Records the gap a restore leaves: ids after `after` (nil: the backup held no event)
    /// up to `throughMilliseconds`.
    public static func record(after: ULID?, throughMilliseconds: UInt64, in database: Database) throws {
        let family = try database.family(ProjectionCatalog.generationsFamily)
        let batch = WriteBatch()
        batch.put(GenerationsKeys.restoreGap(after: after ?? .zero), KeyWriter.build { $0.uint64(throughMilliseconds) }, in: family)
        try database.write(batch, sync: true)
    }

    /// Whether `id` falls in a gap a restore left.
    public static func contain(_ id: ULID, in database: Database) throws -> Bool {
        let family = try database.family(ProjectionCatalog.generationsFamily)
        let prefix = GenerationsKeys.restoreGaps
        let iterator = database.makeIterator(over: family, lower: prefix, upper: KeyWriter.prefixSuccessor(prefix))
        iterator.seekToFirst()
        while iterator.isValid {
            guard let after = GenerationsKeys.decodeRestoreGap(iterator.key), let through = KeyReader.read(iterator.value, { $0.uint64() }) else {
                throw StorageError.malformed("restore gap row")
            }
            if id > after && id.timestamp <= through { return true }
            iterator.next()
        }
        try iterator.checkError()
        return false
    }
}
