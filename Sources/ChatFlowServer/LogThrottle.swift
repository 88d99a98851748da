import Synchronization

/// Lets a warning through at most once a minute: refusing connections, a line for each
/// one would flood the log.
final class LogThrottle: Sendable {
    private let last = Mutex<ContinuousClock.Instant?>(nil)

    /// True when the last warning let through was a minute ago or more (or there was none).
    func allows() -> Bool {
        let now = ContinuousClock.now
        return last.withLock { last in
            guard last.map({ now - $0 >= .seconds(60) }) ?? true else { return false }
            last = now
            return true
        }
    }
}
