import ArgumentParser
import ChatFlowCore
import Foundation

/// `chatflow rebuild`: replays the log into fresh projections and switches over.
struct RebuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Replay the change log into fresh projections (the server must be stopped)."
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(name: .customLong("projection"), help: "A projection to rebuild (repeatable; default: all). Known: \(ProjectionCatalog.names.joined(separator: ", ")).")
    var projections: [String] = []

    @Flag(help: "Print one JSON object with the totals.")
    var json = false

    func validate() throws {
        // A usage error, said before the data directory is opened (exit 64, not 1).
        if let unknown = projections.first(where: { !ProjectionCatalog.names.contains($0) }) {
            throw ValidationError("--projection: unknown projection '\(unknown)'; known: \(ProjectionCatalog.names.joined(separator: ", "))")
        }
    }

    func run() async throws {
        let reportJSON = json ? DataDirectoryOptions.printJSONError : nil
        let engine = try data.openEngine(for: "rebuild", options: .replay.withinDescriptorLimit(), json: reportJSON)
        defer { engine.close() }
        let showProgress = !json && isatty(STDERR_FILENO) == 1
        let result = try DataDirectoryOptions.meetingDamage(in: "rebuild", json: reportJSON) {
            // The progress line is cleared also when damage ends the rebuild, before it is said.
            defer { if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) } }
            return try rebuild(engine, showProgress: showProgress)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(result), as: UTF8.self))
        } else {
            print(String(format: "rebuilt %@ from %d events in %.2f s (%.0f events/s)",
                         result.projections.joined(separator: ", "), result.events, result.seconds, result.eventsPerSecond))
        }
    }

    private func rebuild(_ engine: ChatFlowEngine, showProgress: Bool) throws -> Rebuilder.Result {
        try Rebuilder(log: engine.log, store: engine.store).rebuild(projections) { progress in
            guard showProgress else { return }
            let rate = Double(progress.events) / max(progress.seconds, 1e-9)
            let percent = 100 * Double(progress.events) / Double(progress.estimatedTotal)
            let left = Double(progress.estimatedTotal - progress.events) / max(rate, 1)
            let line = String(format: "\r%5.1f%%  %d / ~%d events  %.0f events/s  ~%.0f s left ", percent, progress.events, progress.estimatedTotal, rate, left)
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}
