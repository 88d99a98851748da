import ArgumentParser

@main
struct ChatFlowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chatflow",
        abstract: "A real-time chat backend on an event-sourced RocksDB change log.",
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
}
