import ArgumentParser
import ChatFlowCore
import ChatFlowStorage
import Foundation
import Synchronization

/// Appends until killed, printing each acknowledged id on its own line the moment the
/// ack arrives. The crash tests run it as a child and SIGKILL it at random moments: every
/// id it printed must be in the log afterwards.
struct AppendLoopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append-loop",
        abstract: "Append events until killed, printing each acknowledged id (for crash tests).",
        shouldDisplay: false
    )

    @Option(help: "The data directory.")
    var dataDir: String

    @Option(help: "Concurrent appenders.")
    var producers = 8

    @Option(help: "A label written into every payload, so a test can tell runs apart.")
    var label = "run"

    @Option(help: "Stop appending after this many acks, then write one batch without fsync and wait to be killed.")
    var stopAfter: Int?

    func run() async throws {
        let log = try RocksDBChangeLog.open(path: dataDir)
        emit("ready \(log.lastPosition?.description ?? "-")")
        let acks = ManagedAtomicCounter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in 0..<producers {
                group.addTask {
                    var sequence = 0
                    while stopAfter.map({ acks.value < $0 }) ?? true {
                        let envelope = EventEnvelope(
                            actor: UserID(unchecked: "crash\(producer)"),
                            event: .chatCreated(.init(name: "\(label)-\(producer)-\(sequence)", description: "", isPrivate: false)))
                        let id = try await log.append(EventCodec.encode(envelope)).ids[0]
                        emit("ack \(id) \(label)-\(producer)-\(sequence)")
                        acks.increment()
                        sequence += 1
                    }
                }
            }
            try await group.waitForAll()
        }
        guard stopAfter != nil, let last = log.lastPosition else { return }
        log.close()
        // The state a crash in the middle of a group commit leaves: a batch in the WAL
        // whose fsync never returned, so no caller was told it was durable.
        let batch = WriteBatch()
        var id = last
        for index in 0..<4 {
            id = id.successor!
            let envelope = EventEnvelope(
                actor: UserID(unchecked: "crash"),
                event: .chatCreated(.init(name: "\(label)-tail-\(index)", description: "", isPrivate: false)))
            batch.put(LogKeys.event(id), EventCodec.encode(envelope), in: try log.database.family(LogKeys.eventsFamily))
        }
        try log.database.write(batch, sync: false)
        emit("unsynced-batch-written")
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}

/// Writes one line to standard output with a single unbuffered `write`, so that a line is
/// either wholly out before a SIGKILL or not at all.
private func emit(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    bytes.withUnsafeMutableBytes { _ = write(STDOUT_FILENO, $0.baseAddress, $0.count) }
}

/// A counter shared by the producers.
private final class ManagedAtomicCounter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
