import ChatFlowCore
import ChatFlowStorage
import Foundation
import Testing
import ChatFlowTestSupport

/// SIGKILL `chatflow project` at random moments while it applies a log, then check that the
/// projections still equal a rebuild and that no reaction was lost or counted twice.
@Suite(.serialized) struct ProjectionCrashTests {
    private struct VerifyOutput: Decodable {
        struct Report: Decodable {
            let projection: String
            let rows: Int
            let equal: Bool
            let firstDifference: String?
        }
        let equal: Bool
        let projections: [Report]
    }

    /// The position every projection has reached (the oldest checkpoint), or nil before the
    /// first batch; read-only, so the next run finds the directory as the kill left it.
    private func appliedPosition(_ path: String) -> ULID? {
        guard let database = try? ProjectionStore.openDatabase(path: path, options: DatabaseOptions(readOnly: true)) else { return nil }
        defer { database.close() }
        guard let store = try? ProjectionStore(database: database),
              let checkpoints = try? ProjectionCatalog.names.map({ try store.checkpoint(of: $0) }),
              checkpoints.allSatisfy({ $0 != nil }) else { return nil }
        return checkpoints.compactMap { $0 }.min()
    }

    @Test func killedProjectorsLeaveProjectionsEqualToARebuild() async throws {
        let dir = TemporaryDirectory("chatflow-project-crash")
        defer { dir.remove() }
        let path = dir.appending("data")

        // Large enough that the projector, at ~15k events/s here, takes several kills to finish.
        let bench = try ChildProcess(["bench", "append", "--events", "40000", "--producers", "8", "--chats", "16", "--data-dir", path, "--json"])
        #expect(await bench.exitStatus() == 0, "bench append failed")
        let ids: [ULID] = try {
            let log = try RocksDBChangeLog.open(path: path, databaseOptions: DatabaseOptions(readOnly: true))
            defer { log.close(); log.database.close() }
            return try log.read(after: nil, limit: .max).map(\.id)
        }()
        #expect(ids.count == 40_000)
        // How many events the projections have applied.
        func applied() -> Int {
            guard let position = appliedPosition(path) else { return 0 }
            var low = 0, high = ids.count  // the number of ids <= position
            while low < high {
                let middle = (low + high) / 2
                if ids[middle] <= position { low = middle + 1 } else { high = middle }
            }
            return low
        }

        // Kill each run after a random time from its start. The delays are the randomised
        // kill points, not synchronisation: wherever they land (opening the database,
        // between batches, during a write) the end state must be the same. When a run makes
        // no progress the range moves later; when one applies over a quarter of the log it
        // moves earlier, so that most kills land while batches are being applied.
        var rng = SystemRandomNumberGenerator()
        var range = 50...700
        var progress: [Int] = [applied()]
        var kills = 0
        var interrupted = 0
        while kills < 5 || (interrupted < 3 && kills < 12) {
            let child = try ChildProcess(["project", "--data-dir", path])
            let delay = Int.random(in: range, using: &rng)
            if await child.waitForOutput(timeout: .milliseconds(delay), { $0.contains { $0.hasPrefix("caught-up") } }) {
                _ = await child.exitStatus()
                break
            }
            _ = child.kill()
            kills += 1
            let before = progress.last!
            let now = applied()
            progress.append(now)
            #expect(now >= before, "the projections went backwards")
            if now > before && now < ids.count { interrupted += 1 }
            if now == before {
                range = (range.lowerBound + 250)...(range.upperBound + 250)
            } else if now - before > ids.count / 4 {
                range = max(20, range.lowerBound / 2)...max(40, range.upperBound / 2)
            }
        }
        #expect(kills >= 5, "the projector finished after \(kills) kills (events applied after each: \(progress))")
        #expect(interrupted >= 1, "no kill landed while batches were being applied (events applied after each: \(progress))")

        // Finish, then verify with the binary.
        let finish = try ChildProcess(["project", "--data-dir", path])
        #expect(await finish.exitStatus() == 0)
        #expect(finish.lines.contains { $0.hasPrefix("caught-up") })
        let verify = try ChildProcess(["verify", "--data-dir", path, "--json"])
        #expect(await verify.exitStatus() == 0, "verify: \(verify.lines.joined(separator: "\n"))")
        let output = try JSONDecoder().decode(VerifyOutput.self, from: Data(try #require(verify.lines.last).utf8))
        #expect(output.equal)
        #expect(output.projections.map(\.projection) == ProjectionCatalog.names)
        for report in output.projections {
            #expect(report.equal, "\(report.projection): \(report.firstDifference ?? "")")
            #expect(report.rows > 1)
        }

        // Every reaction count is the net of the log's reaction events.
        let engine = try ChatFlowEngine(dataDirectory: path)
        defer { engine.close() }
        #expect(engine.projector.isCaughtUp)
        var users: [MessageID: [String: Set<String>]] = [:]
        var messages: [MessageID] = []
        var reactionEvents = 0
        for record in try engine.log.read(after: nil, limit: .max) {
            let envelope = try EventCodec.decode(record.payload)
            switch envelope.event {
            case .messagePosted:
                messages.append(MessageID(record.id))
            case .reactionAdded(let added):
                reactionEvents += 1
                users[added.message, default: [:]][added.emoji, default: []].insert(envelope.actor.rawValue)
            case .reactionRemoved(let removed):
                reactionEvents += 1
                users[removed.message, default: [:]][removed.emoji, default: []].remove(envelope.actor.rawValue)
            default:
                break
            }
        }
        #expect(reactionEvents > 1_000)
        #expect(Set(users.keys).isSubset(of: Set(messages)))
        var mismatches = 0
        for message in messages {
            let expected = (users[message] ?? [:]).compactMapValues { $0.isEmpty ? nil : $0.count }
            let actual = try engine.reader.reactionCounts(message)
            if actual != expected {
                mismatches += 1
                if mismatches <= 5 { Issue.record("reactions of \(message): \(actual), the log says \(expected)") }
            }
        }
        #expect(mismatches == 0)
    }
}
