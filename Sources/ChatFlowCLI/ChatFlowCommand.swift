import ArgumentParser
import ChatFlowCore

struct ChatFlowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chatflow",
        abstract: "A real-time chat backend on an event-sourced RocksDB change log.",
        version: ChatFlowVersion.description,
        subcommands: [
            ServeCommand.self,
            TokenCommand.self,
            RebuildCommand.self,
            VerifyCommand.self,
            BackupCommand.self,
            RestoreCommand.self,
            BenchCommand.self,
            LoadtestCommand.self,
            AppendLoopCommand.self,
            ProjectCommand.self,
        ]
    )

    /// No subcommand is a usage error (64), as any other is, with the usage to go by.
    func run() async throws {
        throw ValidationError("give a subcommand, such as serve; chatflow help lists them")
    }
}
