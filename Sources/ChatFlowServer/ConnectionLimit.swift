import Logging
import NIOCore
import Synchronization

/// How many connections the server holds at once, so that it never runs out of file
/// descriptors: RocksDB's files, its log and the runtime need some too. Past the limit, the
/// process did not refuse connections; it failed wherever a descriptor was next needed
/// (libdispatch's thread pool traps when it cannot read /proc, taking the server down).
/// A connection over the limit is answered 503 and closed before anything else is read.
final class ConnectionLimit: Sendable {
    let maximum: Int
    private let open = Atomic<Int>(0)
    private let warnings = LogThrottle()

    init(maximum: Int) {
        self.maximum = maximum
    }

    var count: Int { open.load(ordering: .relaxed) }

    /// Takes a place for `channel`, given back when it closes; false when there is none.
    func admit(_ channel: any Channel, logger: Logger) -> Bool {
        let taken = open.wrappingAdd(1, ordering: .relaxed).newValue
        guard taken > maximum else {
            channel.closeFuture.whenComplete { _ in self.open.wrappingSubtract(1, ordering: .relaxed) }
            return true
        }
        open.wrappingSubtract(1, ordering: .relaxed)
        warn(logger)
        return false
    }

    /// What a connection over the limit is told before it is closed.
    var refusal: String {
        ProblemDetail(.serviceUnavailable, "the server holds as many connections as it can (\(maximum)); retry in a moment")
            .closingAnswer(retryAfterSeconds: 5)
    }

    private func warn(_ logger: Logger) {
        if warnings.allows() {
            logger.warning("refusing connections: \(maximum) are open, the most this process's open-file limit allows (raise LimitNOFILE or ulimit -n)")
        }
    }

    struct Full: Error {}
}
