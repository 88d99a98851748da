import ArgumentParser
import ChatFlowCore
import ChatFlowStorage
import Foundation

/// `chatflow verify`: exit 0 iff every projection equals a rebuild from the log; 1 when one
/// differs, 74 when the data cannot be opened (none there, in use, damaged), so that a
/// script can tell a mismatch from a mistake.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that every projection equals a rebuild from the change log (the server must be stopped)."
    )

    @OptionGroup var data: DataDirectoryOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    struct Output: Encodable {
        let equal: Bool
        let projections: [Verifier.Report]
        /// Damage that stopped the comparison (exit 74), in words.
        var error: String?
    }

    func run() async throws {
        let engine = try data.openEngine(for: "verify", options: .replay.withinDescriptorLimit(), json: json ? { error in
            try? printJSON(Output(equal: false, projections: [], error: error.description))
        } : nil)
        defer { engine.close() }
        let reports: [Verifier.Report]
        do {
            reports = try compare(engine)
        } catch let damage as StorageError {
            // As `meetingDamage` says it, and in the JSON for a monitor that reads only that.
            if json { try printJSON(Output(equal: false, projections: [], error: damage.description)) }
            throw DataDirectoryOptions.unusable(damage, in: "verify")
        }
        let equal = reports.allSatisfy(\.equal)
        if json {
            try printJSON(Output(equal: equal, projections: reports))
        } else {
            for report in reports {
                if report.equal {
                    print("ok        \(report.projection) (\(report.rows) rows)")
                } else {
                    print("MISMATCH  \(report.projection): \(report.firstDifference ?? "")")
                }
            }
        }
        if !equal { throw ExitCode(1) }
    }

    private func compare(_ engine: ChatFlowEngine) throws -> [Verifier.Report] {
        // A retention pass a stop interrupted leaves projections pruned part way: finished
        // first, as the next `serve` would, so that they are compared as they will stay.
        try engine.projector.catchUp()
        let finished = try Retention(days: 0, log: engine.log, store: engine.store, projector: engine.projector)
            .run(now: ULIDGenerator.wallClockMilliseconds())
        if finished.outcome == .pruned {
            FileHandle.standardError.write(Data("verify: finished a retention pass a stop interrupted (\(finished.eventsRemoved) events removed)\n".utf8))
        }
        return try Verifier(log: engine.log, store: engine.store).verify(projector: engine.projector)
    }

    private func printJSON(_ output: Output) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(output), as: UTF8.self))
    }
}
