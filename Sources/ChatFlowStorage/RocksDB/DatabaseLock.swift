#if canImport(Glibc)
import Glibc
#endif

/// RocksDB's lock on a data directory, seen from outside the database: a POSIX write lock
/// on the whole of its `LOCK` file, which every process opening the database takes.
///
/// `chatflow restore` takes it itself while it replaces the directory, so that a server or
/// a command starting meanwhile is refused as "in use", as it would be by a running server,
/// instead of opening a directory about to be moved aside.
public final class DatabaseLock {
    private var descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit { release() }

    /// Takes the lock on the database in the existing `directory` (creating its `LOCK` file
    /// when missing); nil when another process holds it. Throws when the file cannot be
    /// made or opened.
    ///
    /// POSIX locks belong to the process, and closing any descriptor of the file drops
    /// them: the process holding this must not open the database in `directory` itself.
    public static func take(in directory: String) throws(StorageError) -> DatabaseLock? {
        let descriptor = open(directory + "/LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw .notWritable(path: directory, detail: String(cString: strerror(errno)))
        }
        var request = wholeFile(F_WRLCK)
        guard fcntl(descriptor, F_SETLK, &request) == 0 else {
            close(descriptor)
            return nil
        }
        return DatabaseLock(descriptor: descriptor)
    }

    /// Whether another process holds the lock on the database in `directory`, asked without
    /// taking it; false when there is no `LOCK` file.
    public static func isHeld(in directory: String) -> Bool {
        let descriptor = open(directory + "/LOCK", O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var probe = wholeFile(F_WRLCK)
        return fcntl(descriptor, F_GETLK, &probe) == 0 && probe.l_type != Int16(F_UNLCK)
    }

    public func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    private static func wholeFile(_ type: Int32) -> flock {
        flock(l_type: Int16(type), l_whence: Int16(SEEK_SET), l_start: 0, l_len: 0, l_pid: 0)
    }
}
