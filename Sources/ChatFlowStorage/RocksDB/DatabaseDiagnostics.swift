import CRocksDBLogger
import Foundation
import Synchronization

/// Where RocksDB's messages about itself (flushes, compactions, failed writes) go. RocksDB
/// writes no LOG file of its own: on a full disk, its next write to that file after a failed
/// one stopped the process, and a command opening a directory in use renamed the server's
/// LOG away.
public struct DatabaseDiagnostics: Sendable {
    /// RocksDB's levels, in its order.
    public enum Level: Int32, Sendable, Comparable {
        case debug = 0, info, warning, error, fatal

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// The least level handed on; below it, messages are not even formatted.
    public var minimumLevel: Level
    /// Called from RocksDB's threads.
    public var handler: @Sendable (Level, String) -> Void

    public init(minimumLevel: Level, handler: @escaping @Sendable (Level, String) -> Void) {
        self.minimumLevel = minimumLevel
        self.handler = handler
    }

    /// Errors on standard error, for the commands that keep no log of their own (RocksDB's
    /// warnings repeat what the command says itself, such as a directory in use).
    public static let standardError = DatabaseDiagnostics(minimumLevel: .error) { level, message in
        FileHandle.standardError.write(Data("rocksdb \(level): \(message)\n".utf8))
    }

    /// A RocksDB logger handing messages to `sink`, which must outlive every database
    /// opened with it. The caller destroys the returned handle once the options hold it.
    static func makeLogger(for sink: Sink) -> OpaquePointer? {
        // Warnings are always read, for the write-ahead log's damage (see `Sink`).
        let minimum = Swift.min(sink.diagnostics.minimumLevel, .warning)
        return chatflow_rocksdb_logger_create(minimum.rawValue, { context, level, message in
            guard let context, let message else { return }
            let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
            // Headers (the options dump at open, level 5) are debug detail here.
            let level = Level(rawValue: level) ?? .debug
            let text = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
            if level == .warning, text.contains(": dropping "), text.contains(" bytes; "), !DatabaseDiagnostics.isTornTail(text) {
                sink.walDamage.withLock { $0.append(text) }
            }
            guard level >= sink.diagnostics.minimumLevel else { return }
            sink.diagnostics.handler(level, text)
        }, Unmanaged.passUnretained(sink).toOpaque())
    }

    /// A record cut short at the end of the log, by a crash while it was written: never
    /// synced, so never acknowledged. Damage anywhere else loses what follows it.
    static func isTornTail(_ message: String) -> Bool {
        ["truncated header", "truncated record body", "error reading trailing data"].contains { message.contains($0) }
    }

    /// What a database keeps alive for its logger's callbacks.
    final class Sink: Sendable {
        let diagnostics: DatabaseDiagnostics
        /// What recovery at open dropped from a damaged write-ahead log ("…/000004.log:
        /// dropping 9839 bytes; Corruption: checksum mismatch"): RocksDB keeps the records
        /// before the damage and says so only as a warning, which a command's standard
        /// error does not show.
        let walDamage = Mutex<[String]>([])
        init(_ diagnostics: DatabaseDiagnostics) { self.diagnostics = diagnostics }
    }
}
