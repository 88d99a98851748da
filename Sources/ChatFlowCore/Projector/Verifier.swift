import ChatFlowStorage
import Dispatch

/// Proves the live projections equal a rebuild from the log: each is rebuilt into a
/// scratch family and compared with the live one key by key.
public struct Verifier {
    public struct Report: Sendable, Encodable {
        public let projection: String
        public let rows: Int
        public let equal: Bool
        /// The first key (hex) where live and rebuilt differ, and how.
        public let firstDifference: String?
    }

    let log: RocksDBChangeLog
    let store: ProjectionStore

    public init(log: RocksDBChangeLog, store: ProjectionStore) {
        self.log = log
        self.store = store
    }

    /// Compares every projection. The live projections are first brought up to the end of
    /// the log by the projector's own tail path, as a server start would.
    public func verify(projector: Projector) throws -> [Report] {
        try projector.catchUp()
        return try ProjectionCatalog.all.map { projection in
            let scratch = try store.makeNextGeneration(of: projection.name)
            defer { try? store.discard(scratch.family) }
            _ = try Rebuilder(log: log, store: store)
                .replay(into: [(projection, scratch.family)], progress: nil, started: DispatchTime.now().uptimeNanoseconds)
            do {
                return try compare(projection.name, live: store.family(of: projection.name), rebuilt: scratch.family)
            } catch StorageError.corrupt(_, let detail) {
                // Which projection to rebuild (RocksDB's message names only a table file).
                throw StorageError.damagedProjection(name: projection.name, detail: detail)
            }
        }
    }

    func compare(_ name: String, live: ColumnFamily, rebuilt: ColumnFamily) throws -> Report {
        let a = store.database.makeIterator(over: live, fillCache: false)
        let b = store.database.makeIterator(over: rebuilt, fillCache: false)
        a.seekToFirst()
        b.seekToFirst()
        var rows = 0
        while a.isValid || b.isValid {
            let difference: String? = switch (a.isValid, b.isValid) {
            case (true, false): "live has \(hex(a.key)), the rebuild ends before it"
            case (false, true): "the rebuild has \(hex(b.key)), live ends before it"
            default:
                if a.key != b.key {
                    a.key.lexicographicallyPrecedes(b.key)
                        ? "live has \(hex(a.key)), the rebuild does not"
                        : "the rebuild has \(hex(b.key)), live does not"
                } else if a.value != b.value {
                    "values differ at \(hex(a.key)): live \(hex(a.value)), rebuilt \(hex(b.value))"
                } else {
                    nil
                }
            }
            if let difference {
                // An iterator that stopped on a damaged block looks like one at its end: the
                // damage is the error, not a difference.
                try a.checkError()
                try b.checkError()
                return Report(projection: name, rows: rows, equal: false, firstDifference: difference)
            }
            rows += 1
            a.next()
            b.next()
        }
        try a.checkError()
        try b.checkError()
        return Report(projection: name, rows: rows, equal: true, firstDifference: nil)
    }

    private func hex(_ bytes: [UInt8]) -> String {
        let shown = bytes.prefix(64).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
        }.joined()
        return bytes.count > 64 ? shown + "…" : shown
    }
}
