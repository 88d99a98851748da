import ChatFlowStorage

/// The rows an apply step produces, held in memory until the step ends: later events in
/// the step read earlier events' rows from here, a row written many times in a step (a
/// counter) is written once, and the final rows go to RocksDB sorted by key, which makes
/// the memtable inserts cheap (each starts where the previous one ended).
/// (RocksDB's indexed batch gives the same reads but costs several times more per row.)
final class ProjectionBatch {
    let database: Database
    /// The data directory's `ProjectionStore.salt`.
    let salt: UInt64
    /// Per family: what this step did to each row it touched.
    private var overlays: [ObjectIdentifier: (family: ColumnFamily, rows: [RowKey: RowChange])] = [:]
    /// Per family: the keys written in this step under each group (a prefix that keys of one
    /// kind share, such as one term's runs), so `first(in:from:)` finds them without
    /// looking at every row of the step.
    private var groups: [ObjectIdentifier: [RowKey: Set<RowKey>]] = [:]

    init(database: Database, salt: UInt64) {
        self.database = database
        self.salt = salt
    }

    func put(_ key: [UInt8], _ value: [UInt8], in family: ColumnFamily) {
        overlays[ObjectIdentifier(family), default: (family, [:])].rows[RowKey(key)] = .put(value)
    }

    func delete(_ key: [UInt8], in family: ColumnFamily) {
        overlays[ObjectIdentifier(family), default: (family, [:])].rows[RowKey(key)] = .delete
    }

    func put(_ key: [UInt8], _ value: [UInt8], in family: ColumnFamily, group: [UInt8]) {
        let row = RowKey(key)
        let earlier = overlays[ObjectIdentifier(family), default: (family, [:])].rows.updateValue(.put(value), forKey: row)
        note(row, in: family, group: group, earlier: earlier)
    }

    /// Adds ids to a row of `IDSetMerge` values without reading it: the step's write is the
    /// ids alone, unless it wrote the whole row already.
    func merge(_ key: [UInt8], _ operand: [UInt8], in family: ColumnFamily, group: [UInt8]) throws {
        let row = RowKey(key)
        // One lookup: a row first touched here starts as a merge of nothing.
        var created = false
        let wasLive = try overlays[ObjectIdentifier(family), default: (family, [:])].rows[row, default: { created = true; return .merge([]) }()].add(operand)
        if created || !wasLive { note(row, in: family, group: group) }
    }

    /// Notes a row just written under its group. A row written before in this step (a
    /// term's open run, written for every posting added to it) is in its group already; one
    /// only deleted so far is not.
    private func note(_ row: RowKey, in family: ColumnFamily, group: [UInt8], earlier: RowChange? = nil) {
        if earlier?.isLive == true { return }
        groups[ObjectIdentifier(family), default: [:]][RowKey(group), default: []].insert(row)
    }

    /// The first row of `group` at or after `start`, as the step would leave it.
    func first(in family: ColumnFamily, group: [UInt8], from start: [UInt8]) throws -> (key: [UInt8], value: [UInt8])? {
        let rows = overlays[ObjectIdentifier(family)]?.rows ?? [:]
        let from = RowKey(start)
        var written: RowKey?
        for key in groups[ObjectIdentifier(family)]?[RowKey(group)] ?? [] where !(key < from) {
            if rows[key]?.isLive == true, written.map({ key < $0 }) ?? true {
                written = key
            }
        }
        let iterator = database.makeIterator(over: family, lower: start, upper: KeyWriter.prefixSuccessor(group))
        iterator.seekToFirst()
        while iterator.isValid {
            let key = RowKey(iterator.key)
            if let written, !(key < written) { break }
            if let change = rows[key] {
                // Deleted in this step: on to the next.
                guard let value = try change.value(over: iterator.value) else {
                    iterator.next()
                    continue
                }
                return (key.bytes, value)
            }
            return (key.bytes, iterator.value)
        }
        try iterator.checkError()
        guard let written else { return nil }
        return try rows[written]!.value(over: database.get(written.bytes, in: family)).map { (written.bytes, $0) }
    }

    func get(_ key: [UInt8], in family: ColumnFamily) throws -> [UInt8]? {
        guard let change = overlays[ObjectIdentifier(family)]?.rows[RowKey(key)] else {
            return try database.get(key, in: family)
        }
        return try change.value(over: database.get(key, in: family))
    }

    /// The step's rows as one atomic batch, in key order within each family.
    func makeWriteBatch() -> WriteBatch {
        let batch = WriteBatch()
        for (family, rows) in overlays.values {
            for (key, change) in rows.sorted(by: { $0.key < $1.key }) {
                switch change {
                case .put(let value): batch.put(key.bytes, value, in: family)
                case .delete: batch.delete(key.bytes, in: family)
                case .merge(let operands): batch.merge(key.bytes, operands, in: family)
                }
            }
        }
        return batch
    }

    /// Rows starting with `prefix` from `start` on, in key order, as the batch would leave them.
    /// With `grouped`, every key under `prefix` this step writes is put with `prefix` as its
    /// group (and none is deleted): the step's rows are found from the group, not by looking
    /// at every row of the step (which, for a scan per event, made a rebuild's steps
    /// quadratic).
    func scan(_ family: ColumnFamily, prefix: [UInt8], from start: [UInt8], grouped: Bool = false, _ body: ([UInt8], [UInt8]) throws -> Bool) throws {
        let first = RowKey(start)
        let rows = overlays[ObjectIdentifier(family)]?.rows ?? [:]
        let written: [(key: RowKey, value: RowChange)]
        if grouped {
            written = (groups[ObjectIdentifier(family)]?[RowKey(prefix)] ?? []).compactMap { key in
                key < first ? nil : rows[key].map { (key, $0) }
            }
        } else {
            written = rows.filter { $0.key.bytes.starts(with: prefix) && !($0.key < first) }.map { ($0.key, $0.value) }
        }
        let pending = written
            .sorted { $0.key < $1.key }
            .map { (key: $0.key.bytes, change: $0.value) }
        let iterator = database.makeIterator(over: family, lower: start, upper: KeyWriter.prefixSuccessor(prefix))
        iterator.seekToFirst()
        var index = 0
        while true {
            let stored = iterator.isValid ? iterator.key : nil
            let next: ([UInt8], [UInt8]?)
            if index < pending.count, stored.map({ !$0.lexicographicallyPrecedes(pending[index].key) }) ?? true {
                // The batch's change is made over the stored row of the same key, if any.
                var base: [UInt8]?
                if stored == pending[index].key {
                    base = iterator.value
                    iterator.next()
                }
                next = (pending[index].key, try pending[index].change.value(over: base))
                index += 1
            } else if let stored {
                next = (stored, iterator.value)
                iterator.next()
            } else {
                break
            }
            if let value = next.1, try !body(next.0, value) { return }
        }
        try iterator.checkError()
    }
}
