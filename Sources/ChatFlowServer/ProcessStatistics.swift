import Foundation

/// The server process's own resource use, read from `/proc/self` on Linux (nil elsewhere):
/// `/metrics` exports it under the usual Prometheus process names, so that memory per
/// connection can be read off a running server without access to its host.
enum ProcessStatistics {
    /// Resident memory in bytes: the second field of `/proc/self/statm`, in pages.
    static func residentBytes() -> Int? {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Open file descriptors: the entries of `/proc/self/fd`.
    static func openDescriptors() -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")).map(\.count)
    }
}
