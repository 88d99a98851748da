import ArgumentParser
import Foundation

/// `--data-dir`, defaulting to `CHATFLOW_DATA_DIR`, then `./data`.
struct DataDirectoryOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "The data directory (default: $CHATFLOW_DATA_DIR or ./data).")
    var dataDirectory: String?

    var path: String {
        dataDirectory ?? ProcessInfo.processInfo.environment["CHATFLOW_DATA_DIR"] ?? "./data"
    }
}
