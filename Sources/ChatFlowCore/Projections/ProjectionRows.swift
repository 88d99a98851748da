import ChatFlowStorage

/// One projection's view of the batch being built: reads and writes confined to its own
/// column family, over the rows already written (and those written earlier in the batch).
public struct ProjectionRows {
    let batch: ProjectionBatch
    let family: ColumnFamily

    /// A random value fixed for the data directory, the same in every generation: for
    /// layouts that must be a pure function of the events (so a rebuild matches) but that
    /// a user who knows the code must not be able to predict.
    public var salt: UInt64 { batch.salt }

    public func get(_ key: [UInt8]) throws -> [UInt8]? {
        try batch.get(key, in: family)
    }

    public func contains(_ key: [UInt8]) throws -> Bool {
        try batch.get(key, in: family) != nil
    }

    public func put(_ key: [UInt8], _ value: [UInt8] = []) {
        batch.put(key, value, in: family)
    }

    public func delete(_ key: [UInt8]) {
        batch.delete(key, in: family)
    }

    /// `put`, noting the key under `group` (a prefix it shares with keys of its kind) for
    /// `first(in:from:)`. Keys of a group must all be written this way.
    public func put(_ key: [UInt8], _ value: [UInt8], group: [UInt8]) {
        batch.put(key, value, in: family, group: group)
    }

    /// Adds 16-byte ids to a row of `IDSetMerge` values (a header and ascending ids) without
    /// reading it; a missing row starts as a zero header. Noted under `group` as `put` is.
    public func merge(_ key: [UInt8], adding ids: [UInt8], group: [UInt8]) throws {
        try batch.merge(key, ids, in: family, group: group)
    }

    /// The first row of `group` at or after `start`, as the batch would leave it.
    public func first(in group: [UInt8], from start: [UInt8]) throws -> (key: [UInt8], value: [UInt8])? {
        try batch.first(in: family, group: group, from: start)
    }

    /// Visits the rows whose keys start with `prefix`, in key order, until `body` returns false.
    /// `grouped`: every key under `prefix` is written with `put(_:_:group:)` and `prefix` as
    /// its group, and never deleted, which makes the scan cheap in a large batch.
    public func scan(prefix: [UInt8], from start: [UInt8]? = nil, grouped: Bool = false, _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool) throws {
        try batch.scan(family, prefix: prefix, from: start ?? prefix, grouped: grouped, body)
    }

    /// A counter stored as 8 big-endian bytes; absent reads as zero.
    public func counter(_ key: [UInt8]) throws -> UInt64 {
        guard let bytes = try get(key) else { return 0 }
        return KeyReader.read(bytes) { $0.uint64() } ?? 0
    }

    /// Stores a counter, deleting the row when it reaches zero so that zero has one form.
    public func setCounter(_ key: [UInt8], _ value: UInt64) {
        if value == 0 { delete(key) } else { put(key, KeyWriter.build { $0.uint64(value) }) }
    }
}
