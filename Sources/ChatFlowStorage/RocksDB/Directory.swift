#if canImport(Glibc)
import Glibc
#endif

/// The few file-system checks the storage layer makes before handing a path to RocksDB,
/// so that a bad path gets a clear error rather than RocksDB's low-level message.
enum Directory {
    enum Kind { case missing, directory, other }

    static func kind(of path: String) -> Kind {
        var info = stat()
        guard stat(path, &info) == 0 else { return .missing }
        return (info.st_mode & S_IFMT) == S_IFDIR ? .directory : .other
    }

    /// `mkdir -p`: RocksDB creates only the last component itself.
    static func create(_ path: String) throws(StorageError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            switch kind(of: prefix) {
            case .directory: break
            case .other: throw .notADirectory(path: prefix)
            case .missing:
                if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                    let reason = String(cString: strerror(errno))
                    if errno == ENOSPC { throw .noSpace(detail: "creating \(prefix): \(reason)") }
                    throw .notWritable(path: path, detail: "cannot create \(prefix): \(reason)")
                }
            }
            prefix += "/"
        }
    }

    static func isWritable(_ path: String) -> Bool {
        access(path, W_OK) == 0
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// The name of a file of a RocksDB database in `path` (a table, a write-ahead log, a
    /// manifest), if there is one.
    static func databaseFile(in path: String) -> String? {
        guard let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasSuffix(".sst") || name.hasSuffix(".log") || name.hasPrefix("MANIFEST-") { return name }
        }
        return nil
    }
}
