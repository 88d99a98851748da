import Foundation
import Synchronization
import Testing
@testable import ChatFlowStorage
import ChatFlowTestSupport

@Suite struct DatabaseTests {
    @Test func writesReadsAndIteratesAcrossFamilies() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let db = try Database.open(path: dir.appending("db"), columnFamilies: ["a", "b"])
        defer { db.close() }
        let a = try db.family("a"), b = try db.family("b")
        let batch = WriteBatch()
        for i: UInt8 in 0..<10 { batch.put([i, 0], [i], in: a) }
        batch.put([1], [42], in: b)
        try db.write(batch, sync: true)

        #expect(try db.get([3, 0], in: a) == [3])
        #expect(try db.get([3, 0], in: b) == nil)
        #expect(try db.get([1], in: b) == [42])

        // Bounded forward and reverse iteration.
        let forward = db.makeIterator(over: a, lower: [2], upper: [5])
        forward.seekToFirst()
        var keys: [[UInt8]] = []
        while forward.isValid { keys.append(forward.key); forward.next() }
        #expect(keys == [[2, 0], [3, 0], [4, 0]])
        let backward = db.makeIterator(over: a, lower: [2], upper: [5])
        backward.seekToLast()
        keys = []
        while backward.isValid { keys.append(backward.key); backward.previous() }
        #expect(keys == [[4, 0], [3, 0], [2, 0]])

        let deletes = WriteBatch()
        deletes.deleteRange(from: [0], to: [8], in: a)
        deletes.delete([9, 0], in: a)
        try db.write(deletes, sync: false)
        let rest = db.makeIterator(over: a)
        rest.seekToFirst()
        #expect(rest.isValid && rest.key == [8, 0])
        rest.next()
        #expect(!rest.isValid)
    }

    /// Reads through a snapshot, point reads and iterators alike, see the rows as they were
    /// when it was taken, whatever is written after.
    @Test func aSnapshotReadsRowsAsTheyWere() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let db = try Database.open(path: dir.appending("db"), columnFamilies: ["a"])
        defer { db.close() }
        let a = try db.family("a")
        let before = WriteBatch()
        for i: UInt8 in 0..<4 { before.put([i], [i], in: a) }
        try db.write(before, sync: false)
        let snapshot = db.snapshot()
        let after = WriteBatch()
        after.put([1], [99], in: a)
        after.delete([2], in: a)
        after.put([7], [7], in: a)
        try db.write(after, sync: false)

        #expect(try snapshot.get([1], in: a) == [1] && snapshot.get([2], in: a) == [2] && snapshot.get([7], in: a) == nil)
        #expect(try db.get([1], in: a) == [99] && db.get([2], in: a) == nil)
        let iterator = snapshot.makeIterator(over: a, lower: [1])
        iterator.seekToFirst()
        var rows: [[UInt8]] = []
        while iterator.isValid { rows.append(iterator.key + iterator.value); iterator.next() }
        #expect(rows == [[1, 1], [2, 2], [3, 3]])
    }

    /// Iterators in use while the database closes finish first; ones made after it began
    /// closing are empty and say so. (Before, scans read freed memory: the run hung or crashed.)
    @Test(.timeLimit(.minutes(1))) func iteratorsDuringAndAfterCloseAreSafe() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let db = try Database.open(path: dir.appending("db"), columnFamilies: ["a"])
        let a = try db.family("a")
        let batch = WriteBatch()
        for index in 0..<200 { batch.put([UInt8(index)], Array(repeating: UInt8(index), count: 100), in: a) }
        try db.write(batch, sync: true)

        let seen = outcomes(closing: db, after: 20, of: "scanned", attempts: 5_000) {
            let iterator = db.makeIterator(over: a)
            iterator.seekToFirst()
            var rows = 0
            while iterator.isValid {
                if iterator.value != Array(repeating: iterator.key[0], count: 100) { rows = -1_000_000 }
                rows += 1
                iterator.next()
            }
            do {
                try iterator.checkError()
                return rows == 200 ? "scanned" : "wrong"
            } catch StorageError.closed {
                return rows == 0 ? "closed" : "wrong"
            } catch {
                return "\(error)"
            }
        }
        #expect(Set(seen.keys).isSubset(of: ["scanned", "closed"]), "\(seen)")
        let late = db.makeIterator(over: a)
        late.seekToFirst()
        #expect(!late.isValid)
        #expect(throws: StorageError.closed) { try late.checkError() }
    }

    /// Work still running when the database closes (a request or a replay at shutdown) is
    /// refused with `.closed`, not let loose on freed handles; calls already in progress
    /// finish first.
    @Test(.timeLimit(.minutes(1))) func callsDuringAndAfterCloseAreRefusedInWords() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let db = try Database.open(path: dir.appending("db"), columnFamilies: ["a"])
        let a = try db.family("a")
        let batch = WriteBatch()
        batch.put([1], [42], in: a)
        try db.write(batch, sync: true)

        let seen = outcomes(closing: db, after: 100, of: "read", attempts: 20_000) {
            do {
                return try db.get([1], in: a) == [42] ? "read" : "wrong"
            } catch StorageError.closed {
                return "closed"
            } catch {
                return "\(error)"
            }
        }
        #expect(Set(seen.keys).isSubset(of: ["read", "closed"]), "\(seen)")

        #expect(throws: StorageError.closed) { try db.get([1], in: a) }
        #expect(throws: StorageError.closed) { try db.write(batch, sync: true) }
        #expect(throws: StorageError.closed) { try db.syncWAL() }
        #expect(db.property("rocksdb.estimate-num-keys", in: a) == nil)
    }

    @Test func reopensWithExistingFamiliesAndAddsMissingOnes() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending("nested/deeper/db")
        do {
            let db = try Database.open(path: path, columnFamilies: ["x"])
            let batch = WriteBatch()
            batch.put([1], [2], in: try db.family("x"))
            try db.write(batch, sync: true)
            db.close()
        }
        let db = try Database.open(path: path, columnFamilies: ["y"])
        defer { db.close() }
        #expect(db.familyNames == ["default", "x", "y"])
        #expect(try db.get([1], in: db.family("x")) == [2])
        #expect(throws: StorageError.unknownColumnFamily("z")) { try db.family("z") }
    }

    @Test func createsAndDropsFamiliesAtRuntime() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let db = try Database.open(path: dir.path, columnFamilies: [])
        defer { db.close() }
        let scratch = try db.createFamily("scratch")
        let batch = WriteBatch()
        batch.put([1], [1], in: scratch)
        try db.write(batch, sync: false)
        try db.dropFamily(scratch)
        #expect(!db.familyNames.contains("scratch"))
        let again = try db.createFamily("scratch")
        #expect(try db.get([1], in: again) == nil)
    }

    @Test func checkpointIsAConsistentCopy() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let db = try Database.open(path: dir.appending("db"), columnFamilies: ["a"])
        let batch = WriteBatch()
        batch.put([7], [7], in: try db.family("a"))
        try db.write(batch, sync: true)
        try db.checkpoint(to: dir.appending("copy"))
        #expect(throws: StorageError.self) { try db.checkpoint(to: dir.appending("copy")) }
        db.close()
        let copy = try Database.open(path: dir.appending("copy"), columnFamilies: [])
        defer { copy.close() }
        #expect(try copy.get([7], in: copy.family("a")) == [7])
        #expect(copy.integerProperty("rocksdb.estimate-num-keys", in: try copy.family("a")) != nil)
    }

    @Test func aFileInsteadOfADirectoryIsRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let file = dir.appending("file")
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        #expect(throws: StorageError.notADirectory(path: file)) {
            try Database.open(path: file, columnFamilies: [])
        }
        // Nothing was written to the file.
        #expect(FileManager.default.contents(atPath: file) == Data("x".utf8))
    }

    @Test func aSecondOpenOfTheSameDirectoryIsLocked() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let db = try Database.open(path: dir.path, columnFamilies: ["a"])
        defer { db.close() }
        let error = #expect(throws: StorageError.self) { try Database.open(path: dir.path, columnFamilies: ["a"]) }
        #expect(error == .locked(path: dir.path))
        #expect(error?.description.contains("in use by another ChatFlow process") == true)
    }

    @Test func anUnwritableDirectoryIsRefusedInWords() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let target: String
        if getuid() == 0 {
            // Permissions do not stop root; sysfs refuses everyone.
            target = "/sys/chatflow-test-\(getpid())/db"
        } else {
            chmod(dir.path, 0o500)
            target = dir.appending("db")
        }
        defer { chmod(dir.path, 0o700) }
        let error = #expect(throws: StorageError.self) { try Database.open(path: target, columnFamilies: []) }
        guard case .notWritable = error else {
            Issue.record("expected notWritable, got \(String(describing: error))")
            return
        }
        #expect(error!.description.contains("not writable"))
    }

    /// An immutable data directory (`chattr +i`) refuses even root (EPERM, not EACCES), and
    /// is refused as not writable, before RocksDB tries to create its files there.
    @Test func anImmutableDirectoryIsRefusedInWords() throws {
        // Only root may set the flag.
        guard getuid() == 0 else { return }
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let shut = dir.appending("db")
        try FileManager.default.createDirectory(atPath: shut, withIntermediateDirectories: true)
        func chattr(_ flag: String) throws -> Int32 {
            let tool = Process()
            tool.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
            tool.arguments = [flag, shut]
            try tool.run()
            tool.waitUntilExit()
            return tool.terminationStatus
        }
        // A file system without the flag (tmpfs, overlay) cannot show this.
        guard (try? chattr("+i")) == 0 else { return }
        defer { _ = try? chattr("-i") }
        let error = #expect(throws: StorageError.self) { try Database.open(path: shut, columnFamilies: []) }
        guard case .notWritable = error else {
            Issue.record("expected notWritable, got \(String(describing: error))")
            return
        }
        #expect(error!.description.contains("not writable"))
    }

    @Test func aCorruptDatabaseSaysSo() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        do {
            let db = try Database.open(path: dir.path, columnFamilies: ["a"])
            db.close()
        }
        // Overwrite the MANIFEST pointer with garbage.
        try Data("not a manifest name\n".utf8).write(to: URL(fileURLWithPath: dir.appending("CURRENT")))
        let error = #expect(throws: StorageError.self) { try Database.open(path: dir.path, columnFamilies: ["a"]) }
        switch error {
        case .corrupt?, .rocksDB?: #expect(error!.description.count > 10)
        default: Issue.record("expected a corruption error, got \(String(describing: error))")
        }
    }

    @Test func readOnlyHandlesRefuseWrites() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let writer = try Database.open(path: dir.path, columnFamilies: ["a"])
        let batch = WriteBatch()
        batch.put([1], [1], in: try writer.family("a"))
        try writer.write(batch, sync: true)
        writer.close()
        let reader = try Database.open(path: dir.path, columnFamilies: [], options: DatabaseOptions(readOnly: true))
        defer { reader.close() }
        let a = try reader.family("a")
        #expect(try reader.get([1], in: a) == [1])
        let attempt = WriteBatch()
        attempt.put([2], [2], in: a)
        #expect(throws: StorageError.readOnly) { try reader.write(attempt, sync: true) }
        #expect(try reader.get([2], in: a) == nil)
    }

    /// Four threads call `attempt` up to `attempts` times each, each stopping at its first
    /// outcome other than `ok`; once `ok` has come `warmUp` times, `db` closes under them.
    /// Returns how often each outcome came.
    private func outcomes(
        closing db: Database, after warmUp: Int, of ok: String, attempts: Int,
        _ attempt: @escaping @Sendable () -> String
    ) -> [String: Int] {
        let outcomes = Mutex<[String: Int]>([:])
        let workers = DispatchGroup()
        for _ in 0..<4 {
            workers.enter()
            Thread.detachNewThread {
                defer { workers.leave() }
                for _ in 0..<attempts {
                    let outcome = attempt()
                    outcomes.withLock { $0[outcome, default: 0] += 1 }
                    if outcome != ok { return }
                }
            }
        }
        let deadline = Date().addingTimeInterval(30)
        while outcomes.withLock({ $0[ok, default: 0] }) < warmUp {
            guard Date() < deadline else {
                Issue.record("only \(outcomes.withLock { $0 }) before the deadline")
                break
            }
            Thread.sleep(forTimeInterval: 0.001)
        }
        db.close()
        workers.wait()
        return outcomes.withLock { $0 }
    }
}
