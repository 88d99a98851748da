import ChatFlowStorage
import Foundation
import Logging

/// One open data directory: the database, the change log in it, the projections and the
/// projector that keeps them current, and the reader that answers queries.
public final class ChatFlowEngine: Sendable {
    public let database: Database
    public let log: RocksDBChangeLog
    public let store: ProjectionStore
    public let projector: Projector
    public let reader: ChatFlowReader
    public let dataDirectory: String
    /// The projections this opening rebuilt from the log before anything read them (see below).
    public let rebuiltAtOpening: [String]
    /// Held by commands from their checks until their events are applied: see `ChatLocks`.
    let chatLocks = ChatLocks()

    public init(dataDirectory: String, logOptions: ChangeLogOptions = ChangeLogOptions(), databaseOptions: DatabaseOptions = DatabaseOptions(), logger: Logger = Logger(label: "chatflow")) throws {
        self.dataDirectory = dataDirectory
        try Self.requireNoInterruptedRestore(at: dataDirectory)
        database = try ProjectionStore.openDatabase(path: dataDirectory, options: databaseOptions)
        // The log starts its writer thread: stopped again if what follows fails.
        var opened: RocksDBChangeLog?
        do {
            let log = try RocksDBChangeLog(database: database, options: logOptions)
            opened = log
            self.log = log
            let store = try ProjectionStore(database: database, random: { logOptions.random().1 })
            self.store = store
            // After retention the log starts part-way through each chat's history: a
            // projection filled from its start would lack what `rebuild` gives it (the seed
            // of what was removed, counters included, and the prune at the horizon after).
            // One that has applied nothing (started afresh by this opening, or by one whose
            // rebuild here was cut short) is rebuilt here, before anything reads it.
            var rebuilt: [String] = []
            if !databaseOptions.readOnly, try RetentionState.load(from: database) != nil {
                let empty = try ProjectionCatalog.names.filter { try store.checkpoint(of: $0) == nil }
                if !empty.isEmpty {
                    logger.notice("rebuilding projections that start afresh on a log that retention shortened", metadata: ["projections": "\(empty.joined(separator: ","))"])
                    let result = try Rebuilder(log: log, store: store).rebuild(empty)
                    logger.notice("rebuilt projections", metadata: ["events": "\(result.events)", "seconds": "\(result.seconds)"])
                    rebuilt = empty
                }
            }
            rebuiltAtOpening = rebuilt
            projector = try Projector(log: log, store: store, logger: logger)
            reader = ChatFlowReader(store: store)
            // Opening dropped what followed damage in the write-ahead log (and then rewrote
            // it, so the next opening sees nothing wrong): ids given out after the log's end
            // up to now may be lost, like those a restore loses.
            if !database.walDamage.isEmpty, !databaseOptions.readOnly {
                try RestoreGaps.record(after: log.lastPosition, throughMilliseconds: ULIDGenerator.wallClockMilliseconds(), in: database)
            }
        } catch {
            opened?.close()
            database.close()
            throw error
        }
    }

    /// What this opening found damaged in the write-ahead log, in words for an operator; nil
    /// when nothing was. Said once by a writable opening, which rewrites the log without the
    /// damage (and records the lost ids); a read-only one leaves it, and says it again.
    public var walDamageReport: String? {
        let damage = database.walDamage
        guard !damage.isEmpty else { return nil }
        let end = log.lastPosition.map { "event \($0) (\(RFC3339.format(milliseconds: $0.timestamp)))" } ?? "its start"
        return "the write-ahead log was damaged, and what followed the damage is lost (\(damage.joined(separator: "; "))): "
            + "the change log now ends at \(end), so writes acknowledged after that are gone, and WebSocket clients that saw them "
            + "are told to reload; restore a backup made after that time if there is one (ops/runbooks/backup-restore.md)"
    }

    /// The database's unique id (RocksDB's `IDENTITY` file), which tells one data directory
    /// from another whatever path reaches it; nil when the directory has none.
    public static func identity(of dataDirectory: String) -> String? {
        (try? String(contentsOfFile: dataDirectory + "/IDENTITY", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `chatflow restore` swaps directories by renaming them; stopped between the renames, it
    /// leaves no database at `dataDirectory`, and whatever starts there (a database, a JWT
    /// secret) would stand in the way of the data it set aside. Stopped before them, it
    /// leaves the directory as it was beside its copy: writes served there now would be
    /// thrown away by the restore run again. A restore running holds the database's lock,
    /// so that directory is in use.
    public static func requireNoInterruptedRestore(at dataDirectory: String) throws(StorageError) {
        let files = FileManager.default
        // The names a restore gives its directories come from the path with links resolved.
        let resolved = URL(fileURLWithPath: dataDirectory).resolvingSymlinksInPath().path
        let restoring = files.fileExists(atPath: restoringPath(of: resolved))
        if !files.fileExists(atPath: resolved + "/CURRENT") {
            if restoring || files.fileExists(atPath: replacedPath(of: resolved)) {
                throw .interruptedRestore(path: dataDirectory)
            }
        } else if restoring {
            if DatabaseLock.isHeld(in: resolved) { throw .locked(path: dataDirectory) }
            throw .unfinishedRestore(path: dataDirectory)
        }
    }

    /// Where `chatflow restore` builds the new data directory beside `dataDirectory`.
    public static func restoringPath(of dataDirectory: String) -> String { dataDirectory + ".restoring" }
    /// Where it puts the data it replaces until the new data is in place.
    public static func replacedPath(of dataDirectory: String) -> String { dataDirectory + ".replaced" }

    /// Why `directory` cannot be a backup's directory by its name alone, if it cannot:
    /// RocksDB makes the copy under the name with `.tmp` added, then renames it, and a file
    /// system takes names of at most 255 bytes.
    public static func backupNameProblem(_ directory: String) -> String? {
        let name = (directory as NSString).lastPathComponent
        guard name.utf8.count > 251 else { return nil }
        return "the backup directory's name is \(name.utf8.count) bytes; at most 251 (the copy is made under the name with .tmp added, and names are at most 255 bytes)"
    }

    /// A consistent copy of the data directory at `directory` (which must not exist), taken
    /// while writes go on: a RocksDB checkpoint of the log and every projection as of one
    /// moment, plus the directory's own `files` (such as the JWT secret). Returns the last
    /// event the copy holds. Blocking: call it off the event loops.
    @discardableResult
    public func backup(to directory: String, alsoCopying files: [String] = []) throws -> ULID? {
        // Everything acknowledged before this call is durable, so it is in the checkpoint;
        // what is committed while it is taken may be too. The last event is read from the
        // copy itself, not from the log before it was taken.
        try database.checkpoint(to: directory)
        for file in files where FileManager.default.fileExists(atPath: dataDirectory + "/" + file) {
            try FileManager.default.copyItem(atPath: dataDirectory + "/" + file, toPath: directory + "/" + file)
        }
        let copy = try Database.open(path: directory, columnFamilies: LogKeys.families, options: DatabaseOptions(readOnly: true, createIfMissing: false))
        defer { copy.close() }
        return try RocksDBChangeLog(database: copy).lastPosition
    }

    /// Stops the log's writer (after it commits what is queued) and closes the database.
    /// Call after the projector's service has stopped. Returns why the memtables could not
    /// be written to table files, if they could not.
    @discardableResult
    public func close() -> StorageError? {
        log.close()
        // What the memtables hold would otherwise be replayed from the write-ahead log on the
        // next start, keeping the port closed for seconds after a deploy. A failure here costs
        // only that: the log still has it all.
        var failure: StorageError?
        if !database.isReadOnly {
            do { try database.flushAll() } catch { failure = error }
        }
        database.close()
        return failure
    }
}
