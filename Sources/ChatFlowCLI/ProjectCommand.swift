import ArgumentParser
import ChatFlowCore
import Foundation

/// Brings every projection up to the end of the log, as the server's projector would,
/// and prints how many events it applied; the projection crash tests kill it part way.
struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project",
        abstract: "Apply the log to the projections until caught up (for crash tests).",
        shouldDisplay: false
    )

    @OptionGroup var data: DataDirectoryOptions

    func run() async throws {
        let engine = try data.openEngine(for: "project", options: .existing.withinDescriptorLimit())
        defer { engine.close() }
        let applied = try DataDirectoryOptions.meetingDamage(in: "project") { try engine.projector.catchUp() }
        print("caught-up \(applied)")
    }
}
