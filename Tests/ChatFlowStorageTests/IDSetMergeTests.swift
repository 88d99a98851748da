import Testing
@testable import ChatFlowStorage
import ChatFlowTestSupport

@Suite struct IDSetMergeTests {
    /// A 16-byte id that sorts by `n`.
    private func id(_ n: UInt8) -> [UInt8] { [UInt8](repeating: 0, count: 15) + [n] }
    private let header = [UInt8](repeating: 7, count: 16)

    @Test func idsAreAddedOnceAndInOrder() {
        #expect(IDSetMerge.merge(base: nil, operands: id(2)) == [UInt8](repeating: 0, count: 16) + id(2))
        #expect(IDSetMerge.merge(base: header, operands: id(5) + id(1)) == header + id(1) + id(5))
        #expect(IDSetMerge.merge(base: header + id(1) + id(3), operands: id(4) + id(2) + id(3)) == header + id(1) + id(2) + id(3) + id(4))
        #expect(IDSetMerge.merge(base: header + id(1), operands: id(1)) == header + id(1))
        // Not 16-byte words: refused, never guessed at.
        #expect(IDSetMerge.merge(base: header + [1], operands: id(1)) == nil)
        #expect(IDSetMerge.merge(base: [1, 2], operands: id(1)) == nil)
        #expect(IDSetMerge.merge(base: header, operands: [1, 2, 3]) == nil)
    }

    /// Operands over a base in the memtable, in table files flushed at different times and
    /// after a compaction read the same, and reopening (also read-only) changes nothing.
    @Test func theStoreAddsIdsWhereverTheyLie() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending("db")
        var db = try Database.open(path: path, columnFamilies: ["a"])
        var family = try db.family("a")
        let base = WriteBatch()
        base.put([1], header + id(10), in: family)
        try db.write(base, sync: true)
        var expected: [[UInt8]: Set<UInt8>] = [[1]: [10], [2]: []]
        // Ascending, out of order and repeated ids, a few per write; a flush after every
        // other write leaves operands in several table files (five start a compaction).
        let rounds: [[UInt8]] = [[11, 12], [5], [12, 13], [1, 20], [14], [10, 3], [21], [22, 2], [30], [15, 16]]
        for (round, ids) in rounds.enumerated() {
            let batch = WriteBatch()
            batch.merge([1], ids.flatMap(id), in: family)
            batch.merge([2], ids.reversed().flatMap(id), in: family)
            try db.write(batch, sync: false)
            for key in expected.keys { expected[key]!.formUnion(ids) }
            if round % 2 == 1 { try db.flush([family]) }
            #expect(try db.get([1], in: family) == header + expected[[1]]!.sorted().flatMap(id))
            #expect(try db.get([2], in: family) == [UInt8](repeating: 0, count: 16) + expected[[2]]!.sorted().flatMap(id))
        }
        func stored(_ db: Database, _ family: ColumnFamily) throws -> [[UInt8]: [UInt8]] {
            let iterator = db.makeIterator(over: family)
            iterator.seekToFirst()
            var rows: [[UInt8]: [UInt8]] = [:]
            while iterator.isValid {
                rows[iterator.key] = iterator.value
                iterator.next()
            }
            try iterator.checkError()
            return rows
        }
        let wanted: [[UInt8]: [UInt8]] = [
            [1]: header + expected[[1]]!.sorted().flatMap(id),
            [2]: [UInt8](repeating: 0, count: 16) + expected[[2]]!.sorted().flatMap(id),
        ]
        #expect(try stored(db, family) == wanted)
        db.close()
        let readOnly = try Database.open(path: path, columnFamilies: ["a"], options: DatabaseOptions(readOnly: true))
        #expect(try stored(readOnly, try readOnly.family("a")) == wanted)
        readOnly.close()
        db = try Database.open(path: path, columnFamilies: ["a"])
        defer { db.close() }
        family = try db.family("a")
        #expect(try stored(db, family) == wanted)
        // A put replaces the operands before it.
        let reset = WriteBatch()
        reset.put([1], header, in: family)
        reset.merge([1], id(40), in: family)
        try db.write(reset, sync: false)
        #expect(try db.get([1], in: family) == header + id(40))
    }

    /// A row that is not made of 16-byte words fails its reads with an error, not a crash.
    @Test func aRowThatIsNotIdsFailsItsReads() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let db = try Database.open(path: dir.appending("db"), columnFamilies: ["a"])
        defer { db.close() }
        let family = try db.family("a")
        let batch = WriteBatch()
        batch.put([1], [1, 2, 3], in: family)
        batch.merge([1], id(1), in: family)
        batch.merge([2], [1, 2, 3], in: family)
        batch.put([3], header, in: family)
        try db.write(batch, sync: false)
        #expect(throws: StorageError.self) { try db.get([1], in: family) }
        #expect(throws: StorageError.self) { try db.get([2], in: family) }
        #expect(try db.get([3], in: family) == header)
    }
}
