import Foundation
import Testing
import ChatFlowTestSupport

/// `chatflow bench append --json`: one JSON object with the figures the README quotes, and
/// a breakdown of the log writer's cycle whose parts fit in the run (they are disjoint
/// stretches of one thread, so together they can never exceed it).
@Suite(.timeLimit(.minutes(2))) struct BenchAppendTests {
    @Test func reportsThroughputLatencyAndTheWritersCycle() async throws {
        let dir = TemporaryDirectory("chatflow-bench-append")
        defer { dir.remove() }
        let events = 3000
        let bench = try ChildProcess([
            "bench", "append", "--events", "\(events)", "--producers", "8", "--chats", "8", "--data-dir", dir.appending("data"), "--json",
        ])
        let status = await bench.exitStatus()
        let lines = bench.lines.filter { !$0.isEmpty }
        #expect(status == 0, "chatflow bench append exited \(status): \(lines)")
        #expect(lines.count == 1, "--json should print exactly one line on stdout: \(lines)")
        let report = try #require(
            lines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] },
            "no JSON object on stdout: \(lines)")
        func number(_ key: String) -> Double { (report[key] as? NSNumber)?.doubleValue ?? -1 }

        #expect(number("events") == Double(events))
        let seconds = number("seconds")
        #expect(seconds > 0)
        #expect(abs(number("eventsPerSecond") - Double(events) / seconds) < 1e-6 * Double(events) / seconds)
        #expect(number("p50Ms") > 0 && number("p50Ms") <= number("p99Ms") && number("p99Ms") <= number("p999Ms") && number("p999Ms") <= number("maxMs"))

        // Every event was committed by some group commit, each holding at most one per producer.
        let commits = number("groupCommits")
        #expect(commits >= Double(events) / 8 && commits <= Double(events))
        #expect(abs(number("meanGroupSize") * commits - Double(events)) < 0.5)

        let parts = ["writeMs", "gatherMs", "prepareMs", "resumeMs"].map(number)
        #expect(parts.allSatisfy { $0 >= 0 }, "\(report)")
        #expect(number("writeMs") > 0 && number("prepareMs") > 0 && number("resumeMs") > 0, "\(report)")
        let cycleSeconds = parts.reduce(0, +) * commits / 1000
        #expect(cycleSeconds <= seconds * 1.02, "the writer's cycle (\(cycleSeconds) s) cannot be longer than the run (\(seconds) s): \(report)")
        #expect(abs(number("writeShare") - number("writeMs") * commits / 1000 / seconds) < 0.01)

        // Never into data that is already there: synthetic events could not be taken out.
        let errors = dir.appending("again.err")
        let again = try ChildProcess(["bench", "append", "--events", "10", "--data-dir", dir.appending("data")], errorFile: errors)
        #expect(await again.exitStatus() != 0)
        #expect(try String(contentsOfFile: errors, encoding: .utf8).contains("is not empty"))
    }

    /// Stopped part way (Ctrl-C, SIGTERM), a run without --data-dir takes its temporary
    /// directory with it and exits as the signal would have ended it.
    @Test(arguments: [SIGINT, SIGTERM])
    func aStoppedRunLeavesNoTemporaryDirectory(signal: Int32) async throws {
        let dir = TemporaryDirectory("chatflow-bench-stopped")
        defer { dir.remove() }
        let bench = try ChildProcess(["bench", "append", "--events", "50000000", "--producers", "4"], environment: ["TMPDIR": dir.path])
        let started = await eventually(timeout: .seconds(30)) {
            ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).contains { name in
                name.hasPrefix("chatflow-bench-") && FileManager.default.fileExists(atPath: dir.appending(name) + "/CURRENT")
            }
        }
        #expect(started, "the benchmark should have made its directory")
        #expect(bench.stop(with: signal) == 128 + signal)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == [])
    }
}
