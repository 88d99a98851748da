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

    /// CPU time used, user and system, in seconds: fields 14 and 15 of `/proc/self/stat`, in
    /// clock ticks (counted after the command name, which is in parentheses and may hold spaces).
    static func cpuSeconds() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// When the process started, in seconds since 1970: field 22 of `/proc/self/stat` (clock
    /// ticks after boot) added to the boot time in `/proc/stat` (`btime`).
    static func startTime() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")"),
              let system = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let btime = system.split(separator: "\n").first(where: { $0.hasPrefix("btime ") })?.split(separator: " ").last.flatMap({ Double($0) })
        else { return nil }
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        // After the name: state is field 3, so starttime (22) is at 19.
        guard fields.count > 19, let ticks = Double(fields[19]) else { return nil }
        return btime + ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Open file descriptors: the entries of `/proc/self/fd`.
    static func openDescriptors() -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")).map(\.count)
    }
}
