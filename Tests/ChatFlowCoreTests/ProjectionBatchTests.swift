@testable import ChatFlowCore
import ChatFlowStorage
import ChatFlowTestSupport
import Testing

@Suite struct ProjectionBatchTests {
    /// A 16-byte id that sorts by `n`, and a header of `n`s.
    private func id(_ n: UInt8) -> [UInt8] { [UInt8](repeating: 0, count: 15) + [n] }
    private func header(_ n: UInt8) -> [UInt8] { [UInt8](repeating: n, count: 16) }

    /// Ids added in a step read, within the step, as the store reads them once written:
    /// through `get`, `first(in:from:)` and `scan`, over stored rows, absent rows, rows put
    /// and rows deleted earlier in the step.
    @Test func aStepReadsItsMergesAsTheStoreWill() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let database = try Database.open(path: directory.appending("db"), columnFamilies: ["rows"])
        defer { database.close() }
        let family = try database.family("rows")
        let group: [UInt8] = [7]
        func key(_ n: UInt8) -> [UInt8] { group + [n] }
        let stored = WriteBatch()
        stored.put(key(1), header(1) + id(1), in: family)
        stored.put(key(9), header(9) + id(5), in: family)
        stored.put(key(8), header(8), in: family)
        try database.write(stored, sync: false)

        let step = ProjectionBatch(database: database, salt: 0)
        try step.merge(key(9), id(7), in: family, group: group)  // over a stored row
        try step.merge(key(9), id(6), in: family, group: group)
        try step.merge(key(5), id(3), in: family, group: group)  // over no row
        step.delete(key(8), in: family)
        try step.merge(key(8), id(2), in: family, group: group)  // over a row deleted in the step
        step.put(key(4), header(4) + id(9), in: family, group: group)
        try step.merge(key(4), id(1), in: family, group: group)  // over a row put in the step
        step.delete(key(1), in: family)

        let expected: [[UInt8]: [UInt8]] = [
            key(9): header(9) + id(5) + id(6) + id(7),
            key(5): header(0) + id(3),
            key(8): header(0) + id(2),
            key(4): header(4) + id(1) + id(9),
        ]
        for (row, value) in expected { #expect(try step.get(row, in: family) == value) }
        #expect(try step.get(key(1), in: family) == nil)
        #expect(try step.first(in: family, group: group, from: key(0))?.key == key(4))
        #expect(try step.first(in: family, group: group, from: key(6))?.value == expected[key(8)])
        #expect(try step.first(in: family, group: group, from: key(9))?.value == expected[key(9)])
        var scanned: [([UInt8], [UInt8])] = []
        try step.scan(family, prefix: group, from: group) { scanned.append(($0, $1)); return true }
        #expect(scanned.map(\.0) == [key(4), key(5), key(8), key(9)])
        #expect(scanned.allSatisfy { expected[$0.0] == $0.1 })

        // Written, the store holds what the step read.
        try database.write(step.makeWriteBatch(), sync: false)
        for (row, value) in expected { #expect(try database.get(row, in: family) == value) }
        #expect(try database.get(key(1), in: family) == nil)
    }

    /// Readiness asks how long the oldest event not yet projected has waited: zero once
    /// everything is applied, however long ago the last event came; the age of the first
    /// one behind, not of the newest, while some wait.
    @Test func lagIsTheAgeOfTheOldestEventNotYetApplied() async throws {
        try await withWorld { world in
            let projector = world.engine.projector
            #expect(try projector.lagMilliseconds(now: TestTime.jan1) == 0)
            let chat = try await world.createChat("alice")
            world.clock.set(TestTime.jan1 + 5_000)
            _ = try await world.post("alice", chat, "later")
            #expect(try projector.lagMilliseconds(now: TestTime.jan1 + 8_000) == 8_000)
            // Never negative, when the clock is behind the log.
            #expect(try projector.lagMilliseconds(now: TestTime.jan1 - 1_000) == 0)
            try world.catchUp()
            #expect(try projector.lagMilliseconds(now: TestTime.jan1 + 60_000) == 0)
        }
    }
}
