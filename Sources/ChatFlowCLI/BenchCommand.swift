import ArgumentParser

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load tests of the storage engine and of reads over HTTP.",
        subcommands: [BenchAppendCommand.self, BenchReadCommand.self]
    )
}
