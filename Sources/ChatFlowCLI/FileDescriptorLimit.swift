import ChatFlowStorage
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's open-file limit. Thousands of connections need more descriptors than the
/// usual soft limit of 1,024, and a process may raise its soft limit up to the hard one.
enum FileDescriptorLimit {
    /// Raises the soft limit to the hard limit; the limit now in force.
    @discardableResult
    static func raise() -> Int {
        var limit = rlimit()
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        // RLIM_INFINITY is all ones, which does not fit an Int.
        return limit.rlim_cur > UInt64(Int.max) ? Int.max : Int(limit.rlim_cur)
    }
}

extension DatabaseOptions {
    /// These options for a command other than `serve`: the open-file limit raised, and
    /// RocksDB's open table files kept under it, so that a data directory `serve` runs on
    /// does not run a maintenance command out of descriptors.
    func withinDescriptorLimit() -> DatabaseOptions {
        var options = self
        options.maxOpenFiles = Int32(clamping: Swift.max(64, FileDescriptorLimit.raise() - 128))
        return options
    }
}
