#if canImport(Glibc)
import Glibc
#endif

/// The few file-system checks the storage layer makes before handing a path to RocksDB,
/// so that a bad path gets a clear error rather than RocksDB's low-level message.
public enum Directory {
    enum Kind { case missing, directory, other }

    static func kind(of path: String) -> Kind {
        var info = stat()
        guard stat(path, &info) == 0 else { return .missing }
        return (info.st_mode & S_IFMT) == S_IFDIR ? .directory : .other
    }

    /// `mkdir -p`: RocksDB creates only the last component itself. The database's own
    /// directory is its owner's alone (it holds every private message), whatever the
    /// process's umask; the ones above it are as the umask makes them (`chatflow` sets
    /// 077, so they are private too).
    static func create(_ path: String) throws(StorageError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        let components = path.split(separator: "/")
        for (index, component) in components.enumerated() {
            prefix += component
            switch kind(of: prefix) {
            case .directory: break
            case .other: throw .notADirectory(path: prefix)
            case .missing:
                if mkdir(prefix, index == components.count - 1 ? 0o700 : 0o755) != 0 && errno != EEXIST {
                    let reason = String(cString: strerror(errno))
                    if errno == ENOSPC { throw .noSpace(detail: "creating \(prefix): \(reason)") }
                    throw .notWritable(path: path, detail: "cannot create \(prefix): \(reason)")
                }
            }
            prefix += "/"
        }
    }

    /// The permission bits of `path` that let users other than its owner in, if any.
    public static func openToOthers(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let open = info.st_mode & 0o077
        return open == 0 ? nil : info.st_mode & 0o777
    }

    /// The name of the user `path` belongs to when this process is root and that user is
    /// not; nil otherwise (or when there is nothing at `path`).
    public static func otherOwner(of path: String) -> String? {
        guard geteuid() == 0, let owner = owner(of: path), owner.user != 0 else { return nil }
        guard let entry = getpwuid(owner.user) else { return "user \(owner.user)" }
        return String(cString: entry.pointee.pw_name)
    }

    /// Who `path` (what a link there leads to) belongs to; nil when nothing is there.
    public static func owner(of path: String) -> (user: uid_t, group: gid_t)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (info.st_uid, info.st_gid)
    }

    /// Why this process cannot write in `path`, or nil when it can.
    static func writeProblem(_ path: String) -> String? {
        guard access(path, W_OK) != 0 else { return nil }
        return errno == EROFS ? "read-only file system" : String(cString: strerror(errno)).lowercased()
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// The name of a file of a RocksDB database in `path` (a table, a write-ahead log, a
    /// manifest), if there is one.
    public static func databaseFile(in path: String) -> String? {
        guard let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".sst") || name.hasSuffix(".log") || name.hasPrefix("MANIFEST-") { return name }
        }
        return nil
    }
}
