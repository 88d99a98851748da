import ChatFlowStorage

/// One projection's rows during a retention pass: reads see the family as committed, and
/// the removals go to one batch that is written when every read is done.
public struct PruneContext {
    /// Messages (and everything keyed by them) before this id are removed.
    public let horizon: ULID
    let database: Database
    let family: ColumnFamily
    let batch: WriteBatch

    /// Visits the committed rows in `[lower, upper)` in key order.
    func forEach(from lower: [UInt8], to upper: [UInt8], _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Void) throws {
        let iterator = database.makeIterator(over: family, lower: lower, upper: upper, fillCache: false)
        iterator.seekToFirst()
        while iterator.isValid {
            try body(iterator.key, iterator.value)
            iterator.next()
        }
        try iterator.checkError()
    }

    /// The first committed row in `[lower, upper)`.
    func first(from lower: [UInt8], to upper: [UInt8]) throws -> (key: [UInt8], value: [UInt8])? {
        let iterator = database.makeIterator(over: family, lower: lower, upper: upper)
        iterator.seekToFirst()
        let row = iterator.isValid ? (iterator.key, iterator.value) : nil
        try iterator.checkError()
        return row
    }

    /// Removes the rows of an index from message to owner in `[lower, upper)` (the messages
    /// before the horizon), and for every owner they name, the owner's rows in `ownRows`.
    func removeOwned<Owner: Hashable>(
        index lower: [UInt8], _ upper: [UInt8], owner: ([UInt8]) -> Owner?,
        ownRows: (Owner) -> (lower: [UInt8], upper: [UInt8])
    ) throws {
        var owners = Set<Owner>()
        try forEach(from: lower, to: upper) { _, value in
            if let owner = owner(value) { owners.insert(owner) }
        }
        deleteRange(from: lower, to: upper)
        for owner in owners {
            let rows = ownRows(owner)
            deleteRange(from: rows.lower, to: rows.upper)
        }
    }

    func get(_ key: [UInt8]) throws -> [UInt8]? {
        try database.get(key, in: family)
    }

    func deleteRange(from start: [UInt8], to end: [UInt8]) {
        batch.deleteRange(from: start, to: end, in: family)
    }

    func delete(_ key: [UInt8]) {
        batch.delete(key, in: family)
    }

    func put(_ key: [UInt8], _ value: [UInt8]) {
        batch.put(key, value, in: family)
    }
}
