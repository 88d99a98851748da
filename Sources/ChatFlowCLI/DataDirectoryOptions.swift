import ArgumentParser
import ChatFlowCore
import ChatFlowStorage
import Foundation

/// `--data-dir`, defaulting to `CHATFLOW_DATA_DIR`, then `./data`.
struct DataDirectoryOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "The data directory (default: $CHATFLOW_DATA_DIR or ./data).")
    var dataDirectory: String?

    /// An empty `CHATFLOW_DATA_DIR` is unset, as every variable is: taken as a path, it named
    /// the working directory, which `restore` would have replaced.
    var path: String {
        dataDirectory ?? Environment()["CHATFLOW_DATA_DIR"] ?? "./data"
    }

    func validate() throws {
        if dataDirectory?.isEmpty == true { throw ValidationError("--data-dir must name a directory; leave it out for $CHATFLOW_DATA_DIR or ./data") }
    }

    /// Opens the data directory for `command`; when it cannot be opened (none there, in use,
    /// damaged) says why on stderr and exits 74, as `serve` does. `json`: also on stdout, as
    /// the one JSON object a monitor reading the command's `--json` output expects.
    func openEngine(for command: String, options: DatabaseOptions, json: ((StorageError) -> Void)? = nil) throws -> ChatFlowEngine {
        do {
            let engine = try ChatFlowEngine(dataDirectory: path, databaseOptions: options)
            Self.reportOpening(engine, command: command)
            return engine
        } catch let error as StorageError {
            json?(error)
            throw Self.unusable(error, in: command)
        }
    }

    /// Runs `body` on an open data directory. Damage it meets there (a corrupt block, an
    /// event this build cannot read) is said on stderr and exits 74, as damage found while
    /// opening is; not 1, which `verify` gives for a projection that differs.
    static func meetingDamage<T>(in command: String, json: ((StorageError) -> Void)? = nil, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as StorageError {
            json?(error)
            throw unusable(error, in: command)
        }
    }

    /// `{"error": "..."}` on stdout: what a `--json` command prints when it cannot go on.
    static func printJSONError(_ error: StorageError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if let data = try? encoder.encode(["error": error.description]) { print(String(decoding: data, as: UTF8.self)) }
    }

    /// Says on stderr why `command` cannot use the data directory; the exit that calls for (74).
    static func unusable(_ error: StorageError, in command: String) -> ExitCode {
        FileHandle.standardError.write(Data("\(command): \(error.description)\n".utf8))
        return ExitCode(74)
    }

    /// Says on stderr what this opening of `engine` found: damage in the write-ahead log, and
    /// which projections started again because the data directory held another version of
    /// them. The first `serve` after logs it; a command that opens the directory before that
    /// is the only one to see it, so it says it too.
    static func reportOpening(_ engine: ChatFlowEngine, command: String) {
        if let damage = engine.walDamageReport {
            FileHandle.standardError.write(Data("\(command): \(damage)\n".utf8))
        }
        for (name, stored, version) in engine.store.restarted {
            let what = engine.rebuiltAtOpening.contains(name) ? "it was rebuilt from the log while the data directory opened" : "it starts again from the log"
            FileHandle.standardError.write(Data(
                "\(command): projection \(name) was built by version \(stored); this build has version \(version): \(what)\n".utf8))
        }
    }
}
