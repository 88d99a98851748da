import ArgumentParser
import ChatFlowCore
import ChatFlowStorage
import Foundation

/// `chatflow restore --from DIR`: puts a backup in place as the data directory. The server
/// must be stopped; a data directory with anything in it is only replaced with `--force`.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup made by `chatflow backup` into the data directory (the server must be stopped)."
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(help: "The backup directory.")
    var from: String

    @Flag(help: "Replace a data directory that is not empty.")
    var force = false

    func run() async throws {
        let files = FileManager.default
        guard files.fileExists(atPath: from + "/CURRENT") else {
            throw ValidationError("--from: \(from) is not a ChatFlow backup (it has no RocksDB CURRENT file)")
        }
        let target = URL(fileURLWithPath: data.path).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        if files.fileExists(atPath: target, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw ValidationError("\(target) exists but is not a directory; choose another --data-dir or remove the file")
        }
        let existing = (try? files.contentsOfDirectory(atPath: target)) ?? []
        if !existing.isEmpty {
            guard force else {
                throw ValidationError("\(target) is not empty; stop the server and pass --force to replace it")
            }
            // Opening it is how to learn whether a server still holds it.
            do {
                try ChatFlowEngine(dataDirectory: target, databaseOptions: .existing).close()
            } catch StorageError.locked {
                throw ValidationError("\(target) is in use by a running server; stop it first")
            } catch {
                // Unreadable data is exactly what a restore replaces.
            }
        }
        // Copy next to the target and open the copy there (which finds missing or damaged
        // files, and brings the projections up to date); only then swap, so that neither a
        // failed copy nor a broken backup costs the data directory it would replace.
        let staging = target + ".restoring"
        try? files.removeItem(atPath: staging)
        try files.copyItem(atPath: from, toPath: staging)
        let last: ULID?
        do {
            let engine = try ChatFlowEngine(dataDirectory: staging, databaseOptions: .existing)
            defer { engine.close() }
            try engine.projector.catchUp()
            last = engine.log.lastPosition
        } catch {
            try? files.removeItem(atPath: staging)
            throw ValidationError("the backup in \(from) cannot be opened (\(error)); \(target) was left as it was")
        }
        if files.fileExists(atPath: target) { try files.removeItem(atPath: target) }
        try files.moveItem(atPath: staging, toPath: target)
        print("restored \(from) into \(target) (last event \(last?.description ?? "none")); run `chatflow verify` to check it")
    }
}
