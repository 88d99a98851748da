import ArgumentParser
import ChatFlowCore
import ChatFlowStorage
import Foundation
import Synchronization

/// `chatflow bench append`: concurrent producers append chat-like events, each waiting for
/// its ack before the next, and the durable-append rate and latencies are reported.
struct BenchAppendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append",
        abstract: "Measure durable append throughput and latency of the change log."
    )

    @Option(help: "Events to append in all.")
    var events = 200_000

    @Option(help: "Concurrent producers, each waiting for its ack before the next append.")
    var producers = 64

    @Option(help: "Chats the events are spread over.")
    var chats = 256

    @Option(help: "Approximate message length in bytes.")
    var contentBytes = 120

    @Option(help: "Keep the data here (for rebuild, verify or serve) instead of a temporary directory; it must be new or empty.")
    var dataDir: String?

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard events > 0 else { throw ValidationError("--events must be positive") }
        guard producers > 0 else { throw ValidationError("--producers must be positive") }
        guard chats >= producers else { throw ValidationError("--chats must be at least --producers (each producer owns its chats)") }
        guard contentBytes > 0 && contentBytes <= 4000 else { throw ValidationError("--content-bytes must be 1–4000") }
        // Synthetic events in a real log could never be taken out again.
        if let dataDir, let existing = try? FileManager.default.contentsOfDirectory(atPath: dataDir), !existing.isEmpty {
            throw ValidationError("--data-dir \(dataDir) is not empty; the benchmark writes only into a new or empty directory")
        }
    }

    func run() async throws {
        let directory = dataDir ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("chatflow-bench-\(UUID().uuidString)").path
        defer { if dataDir == nil { try? FileManager.default.removeItem(atPath: directory) } }
        // Stopped with Ctrl-C or SIGTERM, a long run's temporary directory (hundreds of MB)
        // would stay behind.
        let stoppers = dataDir == nil ? Self.removeWhenStopped(directory) : []
        defer {
            stoppers.forEach { $0.cancel() }
            for number in [SIGINT, SIGTERM] { signal(number, SIG_DFL) }
        }

        let commits = CommitCounter()
        var options = ChangeLogOptions()
        options.onCommit = { commits.record($0) }
        let log: RocksDBChangeLog
        do {
            Self.opening.store(true, ordering: .releasing)
            defer { Self.opening.store(false, ordering: .releasing) }
            log = try RocksDBChangeLog.open(path: directory, options: options)
        } catch {
            // Stopped while opening (the directory just went from under it): the stop ends it.
            Self.awaitStop()
            // As the other commands report a data directory they cannot open: exit 74.
            FileHandle.standardError.write(Data("bench append: \(error.description)\n".utf8))
            throw ExitCode(74)
        }
        var result: AppendBenchmark.Result
        do {
            result = try await AppendBenchmark(
                events: events, producers: producers, chats: chats, contentBytes: contentBytes
            ).run(on: log)
        } catch {
            Self.awaitStop()
            log.close(); log.database.close()
            throw error
        }
        // The writer reports a commit once it has resumed the commit's callers, so the last
        // report may come after the last caller returned: stopping the writer waits for it.
        log.close(); log.database.close()
        let totals = commits.totals
        result.groupCommits = totals.commits
        result.meanGroupSize = Double(totals.events) / Double(max(totals.commits, 1))
        result.writeMs = totals.perCommit(totals.writeNanoseconds)
        result.writeShare = Double(totals.writeNanoseconds) / 1e9 / result.seconds
        result.gatherMs = totals.perCommit(totals.gatherNanoseconds)
        result.prepareMs = totals.perCommit(totals.prepareNanoseconds)
        result.resumeMs = totals.perCommit(totals.resumeNanoseconds)

        if json {
            print(try result.jsonLine())
        } else {
            print(result.table(producers: producers, directory: dataDir))
        }
    }

    /// Set once a stop signal is being handled.
    private static let stopping = Atomic<Bool>(false)
    /// Set while RocksDB opens the directory, which it makes again if it is gone.
    private static let opening = Atomic<Bool>(false)

    /// Parks the calling thread for good while a stop signal is handled: the handler removes
    /// the directory and ends the process, and an error the stop caused (files gone from
    /// under RocksDB) must not end it first, with the directory half removed.
    private static func awaitStop() {
        guard stopping.load(ordering: .acquiring) else { return }
        while true { sleep(1) }
    }

    /// On SIGINT or SIGTERM, removes `directory` and exits as the signal would have ended
    /// the process (128 + its number), without running what exit would (RocksDB's threads
    /// are still writing).
    private static func removeWhenStopped(_ directory: String) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                stopping.store(true, ordering: .releasing)
                // An opening makes the directory again if it is moved away (it was left
                // holding an OPTIONS file): it is let end first.
                var waited = 0
                while opening.load(ordering: .acquiring), waited < 500 {
                    usleep(10_000)
                    waited += 1
                }
                // Moved away first: RocksDB's threads, still writing, make files by the old
                // path, which no longer leads anywhere, so none lands in what is removed.
                let doomed = directory + ".removing"
                let gone = rename(directory, doomed) == 0 ? doomed : directory
                // A file a thread finishes meanwhile makes one removal fail: tried again.
                for _ in 0..<50 where FileManager.default.fileExists(atPath: gone) {
                    try? FileManager.default.removeItem(atPath: gone)
                    if FileManager.default.fileExists(atPath: gone) { usleep(10_000) }
                }
                _exit(128 + number)
            }
            source.resume()
            return source
        }
    }
}
