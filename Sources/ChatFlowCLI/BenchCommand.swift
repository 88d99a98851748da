import ArgumentParser

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load tests of the storage engine.",
        subcommands: [BenchAppendCommand.self]
    )
}
