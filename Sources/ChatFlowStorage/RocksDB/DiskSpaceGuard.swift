#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

/// Keeps writes off a full disk. RocksDB treats running out of space in the middle of a WAL
/// write as a hard error that only a reopen clears (and the Debian build even aborts on
/// it), so appends are refused while the data directory's filesystem has less than
/// `reserveBytes` free — leaving room for flushes and compactions — and are accepted again
/// by themselves once space is back. Free space is read with `statvfs` at most every
/// `refreshNanoseconds`, so the check costs nothing per append.
public final class DiskSpaceGuard: Sendable {
    public let path: String
    public let reserveBytes: UInt64
    private let refreshNanoseconds: UInt64
    private let sample = Mutex<(takenAt: UInt64, freeBytes: UInt64?)>((0, nil))
    /// Told when writes start being refused (with why) and when they are accepted again (nil).
    private let onChange: (@Sendable (String?) -> Void)?
    private let refusing = Atomic(false)

    public init(path: String, reserveBytes: UInt64, refreshNanoseconds: UInt64 = 100_000_000, onChange: (@Sendable (String?) -> Void)? = nil) {
        self.path = path
        self.reserveBytes = reserveBytes
        self.refreshNanoseconds = refreshNanoseconds
        self.onChange = onChange
    }

    /// Bytes free for unprivileged writers on the data directory's filesystem (nil if it
    /// cannot be read, which never blocks writes).
    public var freeBytes: UInt64? {
        let now = DispatchTime.now().uptimeNanoseconds
        if let cached = sample.withLock({ now &- $0.takenAt < refreshNanoseconds && $0.takenAt != 0 ? $0.freeBytes : nil }) {
            return cached
        }
        var stats = statvfs()
        let free: UInt64? = statvfs(path, &stats) == 0 ? UInt64(stats.f_bavail) * UInt64(stats.f_frsize) : nil
        sample.withLock { $0 = (now, free) }
        return free
    }

    /// Why writes are refused right now, or nil when there is room. Whoever asks first
    /// after it changed (a write, `/readyz`, a scrape of the metrics) has it told.
    public var problem: String? {
        let problem: String? = if let free = freeBytes, free < reserveBytes {
            "the disk of \(path) has \(free >> 20) MiB free, below the reserve of \(reserveBytes >> 20) MiB; writes resume once space is freed"
        } else {
            nil
        }
        if refusing.exchange(problem != nil, ordering: .relaxed) != (problem != nil) { onChange?(problem) }
        return problem
    }

    /// Throws `StorageError.noSpace` while the disk is below the reserve.
    public func check() throws(StorageError) {
        if let problem { throw StorageError.noSpace(detail: problem) }
    }
}
