import ChatFlowCore
import ChatFlowStorage
import Foundation

/// What keeps the server from being ready: projections behind the change log, a disk
/// too full to take writes, or a store that refuses them.
struct Readiness: Sendable {
    var log: RocksDBChangeLog

    /// How long an event may wait for the projections before the server says it is behind:
    /// well above a batch under load (milliseconds), well below what a reader would notice
    /// as missing.
    static let allowedLagMilliseconds: UInt64 = 2_000

    func problem(projector: Projector) -> String? {
        if let full = log.diskGuard?.problem { return full }
        if log.isWaitingForSpace {
            return "the disk filled up under a write: writes are refused until the store has room again (RocksDB takes them again once a whole write buffer is free); reads still work"
        }
        if let failure = log.writeFailure {
            return "the store refuses writes (\(failure)); fix the cause, then restart the server"
        }
        // Until then, requests are refused (the startup gate), however recent the events.
        guard projector.hasReachedStart else {
            return "the server is starting: projections are catching up with the change log"
        }
        let now = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        do {
            let lag = try projector.lagMilliseconds(now: now)
            guard lag > Self.allowedLagMilliseconds else { return nil }
            return "projections are catching up with the change log (\(String(format: "%.1f", Double(lag) / 1000)) s behind)"
        } catch {
            return "the change log could not be read (\(error))"
        }
    }
}
