/// What went wrong below the domain: each case says, in words, what a person can do about it.
public enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The data directory path exists but is a regular file (or something else that is not a directory).
    case notADirectory(path: String)
    /// There is no database at the path, and the caller did not ask for one to be created.
    case noDatabase(path: String)
    /// The process may not create or write files at the path.
    case notWritable(path: String, detail: String)
    /// Root would open a data directory that belongs to another user (the service's): the
    /// files it wrote there would be root's, and that user's server could not open them.
    case ownedByAnotherUser(path: String, owner: String)
    /// Another process (or another open handle in this one) holds the database lock.
    case locked(path: String)
    /// RocksDB found damaged files.
    case corrupt(path: String, detail: String)
    /// A read model's rows are damaged: made again from the log, they are whole (the log is
    /// the data; a backup is not needed).
    case damagedProjection(name: String, detail: String)
    /// The change log's own rows are damaged: nothing makes them again.
    case damagedLog(detail: String)
    /// A restore stopped between swapping directories: the data directory is missing or
    /// empty beside `<path>.restoring` or `<path>.replaced`.
    case interruptedRestore(path: String)
    /// A restore stopped before it swapped directories: the data directory is as it was,
    /// beside `<path>.restoring`, and serving it would add writes the restore, run again,
    /// throws away.
    case unfinishedRestore(path: String)
    /// The device has no space left.
    case noSpace(detail: String)
    /// A write was attempted through a handle opened read-only.
    case readOnly
    /// The database was closed before the call.
    case closed
    /// A column family the caller named is not open.
    case unknownColumnFamily(String)
    /// Stored bytes could not be understood.
    case malformed(String)
    /// Any other RocksDB error, with its own message.
    case rocksDB(String)

    public var description: String {
        switch self {
        case .notADirectory(let path):
            "data directory \(path) exists but is not a directory; choose another path or remove the file"
        case .noDatabase(let path):
            "there is no ChatFlow data in \(path); check --data-dir (or CHATFLOW_DATA_DIR): `chatflow serve` creates it on its first start"
        case .notWritable(let path, let detail) where detail.localizedCaseInsensitiveContains("read-only file system"):
            // Every command opens the directory for writing (verify and rebuild write new
            // generations, backup a checkpoint): permissions are not what is wrong.
            "data directory \(path) is on a read-only file system (\(detail)); copy it to a writable one to serve, verify or back it up"
        case .notWritable(let path, let detail):
            "data directory \(path) is not writable by this process (\(detail)); fix its permissions or choose another path"
        case .ownedByAnotherUser(let path, let owner):
            "data directory \(path) belongs to \(owner), and this command runs as root: files it wrote there would keep \(owner)'s server out; "
                + "run it as \(owner) (sudo -u \(owner) chatflow ...)"
        case .locked(let path):
            "data directory \(path) is in use by another ChatFlow process (its LOCK is held); stop that process or use another directory"
        case .corrupt(let path, let detail):
            // Which data is not known here: a projection's can be made again from the log,
            // losing nothing, and only the log's own needs a backup (which loses what followed it).
            "data in \(path) is corrupt: \(detail); with the server stopped, `chatflow verify` says whether it is a projection's "
                + "(`chatflow rebuild --projection NAME` makes it again from the change log) or the change log's (restore a backup)"
        case .damagedLog(let detail):
            "the change log is damaged (\(detail)); it cannot be made again from anything: restore a backup made before the damage "
                + "(what was written after the backup is lost), see ops/runbooks/backup-restore.md"
        case .damagedProjection(let name, let detail):
            "the \(name) projection is damaged (\(detail)); with the server stopped, `chatflow rebuild --projection \(name)` makes it again from the change log"
        case .interruptedRestore(let path):
            "a `chatflow restore` into \(path) is running or did not finish (\(path).restoring or \(path).replaced is there): "
                + "wait for it, or run the restore again, or move one of them back to \(path); starting here would begin an empty database"
        case .unfinishedRestore(let path):
            "a `chatflow restore` into \(path) did not finish (\(path).restoring is there; \(path) is as it was): "
                + "run the restore again to finish it, or remove \(path).restoring to keep \(path) as it is"
        case .noSpace(let detail):
            "no space left on the device: \(detail)"
        case .readOnly:
            "this database was opened read-only; writes are refused"
        case .closed:
            "the database is closed"
        case .unknownColumnFamily(let name):
            "column family '\(name)' is not open"
        case .malformed(let detail):
            "stored data is malformed: \(detail)"
        case .rocksDB(let message):
            "storage error: \(message)"
        }
    }

    /// Classifies a RocksDB status message for the database at `path`.
    static func from(rocksMessage message: String, path: String) -> StorageError {
        if message.contains("While lock file") || message.contains("lock hold by current process")
            || message.contains("Resource temporarily unavailable") && message.contains("LOCK") {
            return .locked(path: path)
        }
        // First: a full disk fails whatever was being done, making a directory too.
        if message.contains("No space left on device") {
            return .noSpace(detail: message)
        }
        // A directory RocksDB cannot make (a checkpoint's, somewhere nothing can be made)
        // is one this process cannot write, whatever the reason.
        if message.contains("Permission denied") || message.contains("Read-only file system")
            || message.contains("Operation not permitted") || message.contains("While mkdir") {
            return .notWritable(path: path, detail: message)
        }
        if message.contains("does not exist (create_if_missing is false)") {
            return .noDatabase(path: path)
        }
        if message.hasPrefix("Corruption") || message.contains("Corruption:") {
            return .corrupt(path: path, detail: message)
        }
        if message.contains("Not a directory") {
            return .notADirectory(path: path)
        }
        return .rocksDB(message)
    }
}
