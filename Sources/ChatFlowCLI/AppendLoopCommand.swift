import ArgumentParser
import ChatFlowCore
import ChatFlowStorage
import Foundation

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

    func run() async throws {
        let log = try RocksDBChangeLog.open(path: dataDir)
        emit("ready \(log.lastPosition?.description ?? "-")")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in 0..<producers {
                group.addTask {
                    var sequence = 0
                    while true {
                        let envelope = EventEnvelope(
                            actor: UserID(unchecked: "crash\(producer)"),
                            event: .chatCreated(.init(name: "\(label)-\(producer)-\(sequence)", description: "", isPrivate: false)))
                        let id = try await log.append(EventCodec.encode(envelope)).ids[0]
                        emit("ack \(id) \(label)-\(producer)-\(sequence)")
                        sequence += 1
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// Writes one line to standard output with a single unbuffered `write`, so that a line is
/// either wholly out before a SIGKILL or not at all.
private func emit(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    bytes.withUnsafeMutableBytes { _ = write(STDOUT_FILENO, $0.baseAddress, $0.count) }
}
