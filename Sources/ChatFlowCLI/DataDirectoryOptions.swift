import ArgumentParser
import ChatFlowCore
import ChatFlowStorage
import Foundation

/// `--data-dir`, defaulting to `CHATFLOW_DATA_DIR`, then `./data`.
struct DataDirectoryOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "The data directory (default: $CHATFLOW_DATA_DIR or ./data).")
    var dataDirectory: String?

    var path: String {
        dataDirectory ?? ProcessInfo.processInfo.environment["CHATFLOW_DATA_DIR"] ?? "./data"
    }

    /// Opens the data directory for `command`; when it cannot be opened (none there, in use,
    /// damaged) says why on stderr and exits 74, as `serve` does.
    func openEngine(for command: String, options: DatabaseOptions) throws -> ChatFlowEngine {
        do {
            return try ChatFlowEngine(dataDirectory: path, databaseOptions: options)
        } catch let error as StorageError {
            FileHandle.standardError.write(Data("\(command): \(error.description)\n".utf8))
            throw ExitCode(74)
        }
    }
}
