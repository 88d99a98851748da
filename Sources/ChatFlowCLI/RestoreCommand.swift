import ArgumentParser
import ChatFlowCore
import ChatFlowServer
import ChatFlowStorage
import Foundation
#if canImport(Glibc)
import Glibc
#endif

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

    /// An input/output failure, as the other commands report one: said on standard error,
    /// exit 74 (a usage error is 64).
    private static func cannot(_ what: String) -> ExitCode {
        FileHandle.standardError.write(Data("restore: cannot \(what)\n".utf8))
        return ExitCode(74)
    }

    func run() async throws {
        let files = FileManager.default
        // Symbolic links resolved: the backup's files are copied, not a link to them, and
        // the directory a linked --data-dir names is the one replaced.
        let source = URL(fileURLWithPath: from).resolvingSymlinksInPath().path
        var isDirectory: ObjCBool = false
        guard files.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw Self.cannot("read the backup in \(from): it does not exist")
        }
        guard isDirectory.boolValue else {
            throw ValidationError("--from: \(from) is a file; a backup is the directory `chatflow backup` wrote")
        }
        if access(source, R_OK | X_OK) != 0 {
            throw Self.cannot("read the backup in \(from): \(String(cString: strerror(errno)))")
        }
        let contents = (try? files.contentsOfDirectory(atPath: source)) ?? []
        // A backup is regular files only; reading anything else (a FIFO) could block forever.
        if let odd = contents.first(where: { (try? files.attributesOfItem(atPath: source + "/" + $0)[.type] as? FileAttributeType) != .typeRegular }) {
            throw Self.cannot("use the backup in \(from): \(odd) is not a regular file; a backup holds only the files `chatflow backup` wrote")
        }
        if !contents.contains("CURRENT"), let table = contents.first(where: { $0.hasSuffix(".sst") || $0.hasPrefix("MANIFEST-") }) {
            throw Self.cannot("use the backup in \(from): it holds database files (\(table)) but no CURRENT file; it is damaged")
        }
        guard files.fileExists(atPath: source + "/CURRENT") else {
            throw ValidationError("--from: \(from) is not a ChatFlow backup (it has no RocksDB CURRENT file)")
        }
        // A data directory a process has open changes while it is copied: not a backup.
        if DatabaseLock.isHeld(in: source) {
            throw Self.cannot("use \(from) as a backup: it is a data directory in use by a running server; back it up with `chatflow backup` and restore from that")
        }
        let target = URL(fileURLWithPath: data.path).resolvingSymlinksInPath().path
        if files.fileExists(atPath: target, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw Self.cannot("use \(target) as the data directory: it exists but is not a directory; choose another --data-dir or remove the file")
        }
        let staging = ChatFlowEngine.restoringPath(of: target)
        let replaced = ChatFlowEngine.replacedPath(of: target)
        if source == target || source == replaced || (source + "/").hasPrefix(target + "/") {
            throw ValidationError("--from: \(from) is the data directory \(target) (or inside it, or what a restore set aside): restore from a backup elsewhere")
        }
        // Restored by root into the service user's directory, the copy is given to that user
        // before it goes in: root's files would keep that user's server out. The owner is
        // the directory's, or, when an interrupted restore moved it aside, that of what it
        // set aside or copied.
        let owner = geteuid() == 0 ? [target, replaced, staging].lazy.compactMap(Directory.owner(of:)).first { $0.user != 0 } : nil
        // One restore at a time into a directory: two would swap each other's copies away.
        let lockPath = target + ".restore-lock"
        let lock = open(lockPath, O_CREAT | O_RDWR, 0o600)
        guard lock >= 0 else {
            throw Self.cannot("create \(lockPath): \(String(cString: strerror(errno))); the data directory's parent must exist and be writable")
        }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            close(lock)
            // In use, as a server running on it is (74), not a mistake in the command (64).
            throw Self.cannot("restore into \(target) while another restore into it is running (\(lockPath) is held); wait for it to end")
        }
        // A restore ending removes its lock file: a lock then taken on that removed file
        // keeps no one out, so the file locked must still be the one at the path.
        var held = stat(), named = stat()
        guard fstat(lock, &held) == 0, stat(lockPath, &named) == 0, held.st_dev == named.st_dev, held.st_ino == named.st_ino else {
            close(lock)
            throw Self.cannot("restore into \(target) while another restore into it ends; check what it left and run this one again")
        }
        defer {
            unlink(lockPath)
            close(lock)
        }
        // The copy an interrupted restore left is adopted as it is: it may be all there is.
        let adopting = source == staging
        // What an earlier restore stopped between its renames set aside counts as data here;
        // a LOCK file alone (a database's that was never written) does not.
        let existing = ((try? files.contentsOfDirectory(atPath: target)) ?? []).filter { $0 != "LOCK" }
            + (files.fileExists(atPath: replaced) ? [replaced] : [])
        if !existing.isEmpty && !force {
            if !files.fileExists(atPath: target) {
                throw ValidationError("an earlier restore into \(target) did not finish, and \(replaced) holds the data it replaced; pass --force to restore over it")
            }
            throw ValidationError("\(target) is not empty; stop the server and pass --force to replace it")
        }
        // --force replaces a data directory (also one a copy left without its CURRENT file),
        // never a directory of something else (a mistyped --data-dir).
        let foreign = existing.filter { $0 != replaced && $0 != ServerConfiguration.secretFileName }
        if force && !foreign.isEmpty && !files.fileExists(atPath: target + "/CURRENT") && Directory.databaseFile(in: target) == nil {
            let named = foreign.sorted().prefix(3).joined(separator: ", ") + (foreign.count > 3 ? ", …" : "")
            throw ValidationError("\(target) holds files that are not ChatFlow data (\(named)); --force replaces only a data directory: check --data-dir, or empty it yourself")
        }
        // RocksDB's lock on the target, held until the swap is done: a server or command
        // starting meanwhile is refused as "in use" instead of opening a directory about to
        // be moved aside (whose writes would go with it). Taken once the target is known
        // to be one to replace: it leaves a LOCK file in a directory that had none.
        var targetLock: DatabaseLock?
        if files.fileExists(atPath: target) {
            targetLock = try Self.lockTarget(target, owner: owner)
        }
        defer { targetLock?.release() }
        // Copy next to the target and open the copy there (which finds missing or damaged
        // files, and brings the projections up to date); only then swap, so that neither a
        // failed copy nor a broken backup costs the data directory it would replace.
        if !adopting {
            try? files.removeItem(atPath: staging)
            do {
                try files.copyItem(atPath: source, toPath: staging)
            } catch {
                try? files.removeItem(atPath: staging)
                throw Self.cannot("copy \(from) to \(staging): \(error.localizedDescription); \(target) was left as it was")
            }
        }
        // A copy keeps the backup's modes, which may let every local user read it (a backup
        // made by an earlier version, or one unpacked under umask 022): the data directory is
        // its owner's alone.
        do {
            try Self.closeToOthers(staging)
            // Opened by root, the copy is root's until the swap (one adopted may be the owner's).
            if owner != nil { try Self.give(staging, to: 0, group: 0) }
        } catch {
            if !adopting { try? files.removeItem(atPath: staging) }
            throw Self.cannot("make \(staging) private to its owner (\(error.localizedDescription)); \(target) was left as it was")
        }
        let last: ULID?
        do {
            let engine = try ChatFlowEngine(dataDirectory: staging, databaseOptions: .existing.withinDescriptorLimit())
            defer { engine.close() }
            DataDirectoryOptions.reportOpening(engine, command: "restore")
            // An online backup's projections are a little behind its log; a projection the
            // backup's version built differently starts from the log's beginning: minutes
            // for a long one, said rather than sat through in silence.
            if !engine.projector.hasReachedStart {
                let from = engine.projector.applied.position.map { "event \($0)" } ?? "the log's start"
                FileHandle.standardError.write(Data("restore: bringing the projections up to the backup's last event, from \(from)\n".utf8))
            }
            try engine.projector.catchUp()
            // The log is what everything else is rebuilt from, and opening read little of it:
            // a block of it damaged in the backup is found now, not once it has replaced the
            // data directory. (Damaged projections are `verify`'s to find and `rebuild`'s to mend.)
            try engine.log.checkBlocks()
            last = engine.log.lastPosition
            // Clients may hold ids the replaced directory gave out after the backup was made.
            try RestoreGaps.record(after: last, throughMilliseconds: ULIDGenerator.wallClockMilliseconds(), in: engine.database)
        } catch {
            if !adopting { try? files.removeItem(atPath: staging) }
            throw Self.cannot("open the backup in \(from) (\(error)); \(target) was left as it was")
        }
        if let owner {
            do {
                try Self.give(staging, to: owner.user, group: owner.group)
            } catch {
                if !adopting { try? files.removeItem(atPath: staging) }
                throw Self.cannot("give \(staging) to the owner of \(target) (\(error)); \(target) was left as it was")
            }
        }
        // The swap is two renames, each whole or not at all: the old directory aside, the
        // new one in. Stopped between them, the target is missing and every command that
        // opens it says so (`StorageError.interruptedRestore`) instead of starting an empty
        // database; running the restore again finishes it.
        do {
            if files.fileExists(atPath: target) {
                // Made since the restore began: whatever made it must not be using it.
                if targetLock == nil { targetLock = try Self.lockTarget(target, owner: owner) }
                if files.fileExists(atPath: replaced) { try files.removeItem(atPath: replaced) }
                try Self.rename(target, to: replaced)
            }
        } catch {
            if !adopting { try? files.removeItem(atPath: staging) }
            // A target in use was said as such (74) by `lockTarget`.
            throw (error as? ExitCode) ?? ValidationError("cannot move \(target) aside (\(error.localizedDescription)); it was left as it was")
        }
        try Self.rename(staging, to: target)
        try? files.removeItem(atPath: replaced)
        print("restored \(from) into \(target) (last event \(last?.description ?? "none")); run `chatflow verify` to check it")
    }

    /// Takes the group's and others' permissions off `root` and everything in it. A
    /// symbolic link is left alone: changing its mode would change its target's, which may
    /// lie outside the data directory.
    private static func closeToOthers(_ root: String) throws {
        let files = FileManager.default
        let names = (files.enumerator(atPath: root)?.allObjects as? [String]) ?? []
        for path in [root] + names.map({ root + "/" + $0 }) {
            let attributes = try files.attributesOfItem(atPath: path)
            guard attributes[.type] as? FileAttributeType != .typeSymbolicLink,
                  let mode = (attributes[.posixPermissions] as? NSNumber)?.uint16Value, mode & 0o077 != 0 else { continue }
            try files.setAttributes([.posixPermissions: NSNumber(value: mode & ~0o077)], ofItemAtPath: path)
        }
    }

    /// Gives `root` and everything in it (links themselves, not what they point at) to `user`.
    private static func give(_ root: String, to user: uid_t, group: gid_t) throws {
        let names = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []
        for path in [root] + names.map({ root + "/" + $0 }) where lchown(path, user, group) != 0 {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPERM)
        }
    }

    /// Takes RocksDB's lock on the existing `target`; refused (74) when a server or another
    /// command has it open.
    /// Its LOCK file, made by root when there was none, is given to `owner`: a restore that
    /// fails after must not leave a file the owner's server cannot open.
    private static func lockTarget(_ target: String, owner: (user: uid_t, group: gid_t)?) throws -> DatabaseLock {
        let taken: DatabaseLock?
        do {
            taken = try DatabaseLock.take(in: target)
        } catch {
            throw cannot("restore into \(target): \(error.description)")
        }
        guard let taken else {
            throw cannot("restore into \(target): it is in use by a running server or another command (rebuild, verify, backup); stop it first")
        }
        if let owner { lchown(target + "/LOCK", owner.user, owner.group) }
        return taken
    }

    /// Renames `path` to `destination` and makes the rename durable (the parent directory
    /// synced), so that a power loss after the restore cannot undo it.
    private static func rename(_ path: String, to destination: String) throws {
        guard Glibc.rename(path, destination) == 0 else {
            throw ValidationError("cannot rename \(path) to \(destination): \(String(cString: strerror(errno)))")
        }
        let parent = (destination as NSString).deletingLastPathComponent
        let descriptor = open(parent.isEmpty ? "." : parent, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        _ = fsync(descriptor)
    }
}
