import ChatFlowCore
import ChatFlowStorage
import Foundation
import Testing
import ChatFlowTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `chatflow backup` while `serve` takes writes, then `chatflow restore` and `verify`.
@Suite(.timeLimit(.minutes(3))) struct BackupRestoreTests {
    /// `root` and the paths under it that users other than their owner may read or enter.
    static func openToOthers(_ root: String) -> [String] {
        let names = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []
        return ([root] + names.map { root + "/" + $0 }).filter { Directory.openToOthers($0) != nil }
    }

    @Test func anOnlineBackupUnderWriteLoadRestoresWithEveryEarlierAcknowledgedPost() async throws {
        let dir = TemporaryDirectory("chatflow-backup")
        defer { dir.remove() }
        let data = dir.appending("data")
        let backup = dir.appending("backup")
        let restored = dir.appending("restored")

        let (server, port) = try await Serve.start(dataDirectory: data)
        defer { _ = server.kill() }
        let token = try await Serve.token(user: "alice", dataDirectory: data)
        let client = APIClient(port: port, token: token)
        defer { client.invalidate() }
        let chat = try await Serve.createChat(client, name: "backed-up")

        let load = PostLoad()
        let loader = Task { await load.run(client, chat: chat, workers: 4, label: "b") }
        #expect(await eventually(timeout: .seconds(60)) { load.ackCount >= 50 })
        let ackedBefore = load.acks

        let child = try ChildProcess(
            ["backup", "--data-dir", data, "--to", backup, "--url", "http://127.0.0.1:\(port)"],
            environment: Serve.environment)
        let status = await child.exitStatus()
        let ackedDuring = load.ackCount - ackedBefore.count
        load.stop()
        await loader.value
        #expect(status == 0, "chatflow backup: \(child.lines)")
        #expect(load.unexpected.isEmpty, "posts failed during the backup: \(load.unexpected.prefix(3))")
        #expect(ackedDuring >= 0)

        // A second backup into the same directory is refused and changes nothing.
        let again = try ChildProcess(["backup", "--data-dir", data, "--to", backup, "--url", "http://127.0.0.1:\(port)"], environment: Serve.environment)
        #expect(await again.exitStatus() != 0)

        // Restoring needs the server stopped only for the target directory, not the backup.
        let restore = try ChildProcess(["restore", "--from", backup, "--data-dir", restored], environment: Serve.environment)
        #expect(await restore.exitStatus() == 0, "chatflow restore: \(restore.lines)")
        let (verified, output) = try await Serve.verify(dataDirectory: restored)
        #expect(verified == 0, "chatflow verify on the restored directory: \(output)")
        // The secret travels with the backup, so existing tokens keep working.
        #expect(FileManager.default.contentsEqual(atPath: backup + "/jwt-secret", andPath: data + "/jwt-secret")
                || !FileManager.default.fileExists(atPath: data + "/jwt-secret"))

        // Every private message is in these files: none of them is open to other users, as
        // the test runner's umask (022) would have made them.
        for directory in [data, backup, restored] {
            #expect(Self.openToOthers(directory).isEmpty, "\(directory): \(Self.openToOthers(directory))")
        }
        // A backup open to others (an earlier version's, or one unpacked under umask 022) is
        // restored private all the same: a copy keeps the modes it copies.
        let names = (FileManager.default.enumerator(atPath: backup)?.allObjects as? [String]) ?? []
        for path in [backup] + names.map({ backup + "/" + $0 }) {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            chmod(path, isDirectory.boolValue ? 0o755 : 0o644)
        }
        let fromOpen = dir.appending("restored-from-open")
        let restoreOpen = try ChildProcess(["restore", "--from", backup, "--data-dir", fromOpen], environment: Serve.environment)
        #expect(await restoreOpen.exitStatus() == 0, "chatflow restore: \(restoreOpen.lines)")
        #expect(Self.openToOthers(fromOpen).isEmpty, "\(Self.openToOthers(fromOpen))")

        let engine = try ChatFlowEngine(dataDirectory: restored)
        defer { engine.close() }
        // The last event it names is the copy's, not an earlier one (posts went on).
        let named = child.lines.joined(separator: "\n").firstMatch(of: /last event (\w+)/).map { String($0.1) }
        #expect(named != nil && named == engine.log.lastPosition?.description, "\(child.lines)")
        for ack in ackedBefore {
            #expect(try engine.reader.message(try MessageID(parsing: ack.id)) != nil, "post \(ack.clientID) acknowledged before the backup is missing")
        }
        // Ids the data directory gave out after the backup are known to be lost with it.
        let lastKept = try #require(engine.log.lastPosition)
        #expect(try !RestoreGaps.contain(lastKept, in: engine.database))
        #expect(try RestoreGaps.contain(ULID(timestamp: lastKept.timestamp + 1, randomHigh: 0, randomLow: 0), in: engine.database))
        for ack in load.acks where try ULID.parse(ack.id) > lastKept {
            #expect(try RestoreGaps.contain(ULID.parse(ack.id), in: engine.database), "post \(ack.clientID) after the backup")
        }

        // Restoring over a non-empty directory needs --force.
        let refused = try ChildProcess(["restore", "--from", backup, "--data-dir", restored])
        #expect(await refused.exitStatus() != 0)
        let forced = try ChildProcess(["restore", "--from", backup, "--data-dir", restored, "--force"])
        engine.close()
        #expect(await forced.exitStatus() == 0, "chatflow restore --force: \(forced.lines)")
    }
    /// A backup names its data directory, and only the server running on that one takes
    /// it: `--url` pointing at another server's is refused, as is a backup inside the
    /// directory it protects.
    @Test func aBackupIsOfTheDataDirectoryItNames() async throws {
        let dir = TemporaryDirectory("chatflow-backup-which")
        defer { dir.remove() }
        let first = dir.appending("first"), second = dir.appending("second")
        let (one, _) = try await Serve.start(dataDirectory: first)
        defer { _ = one.kill() }
        let (other, otherPort) = try await Serve.start(dataDirectory: second)
        defer { _ = other.kill() }

        let wrong = dir.appending("wrong")
        let mismatched = try ChildProcess(
            ["backup", "--data-dir", first, "--to", wrong, "--url", "http://127.0.0.1:\(otherPort)"], environment: Serve.environment)
        #expect(await mismatched.exitStatus() == 1)
        #expect(mismatched.lines.joined().contains("not the one asked for"), "\(mismatched.lines)")
        #expect(!FileManager.default.fileExists(atPath: wrong))

        let right = dir.appending("right")
        let matched = try ChildProcess(
            ["backup", "--data-dir", second, "--to", right, "--url", "http://127.0.0.1:\(otherPort)"], environment: Serve.environment)
        #expect(await matched.exitStatus() == 0, "\(matched.lines)")
        #expect(matched.lines.joined().contains(URL(fileURLWithPath: second).standardizedFileURL.path), "the answer names the directory backed up: \(matched.lines)")

        let inside = try ChildProcess(["backup", "--data-dir", second, "--to", second + "/nested", "--url", "http://127.0.0.1:\(otherPort)"], environment: Serve.environment)
        #expect(await inside.exitStatus() != 0)
        #expect(!FileManager.default.fileExists(atPath: second + "/nested"))
        // Also through a symbolic link to it.
        let link = dir.appending("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: second)
        let linked = try ChildProcess(["backup", "--data-dir", second, "--to", link + "/nested", "--url", "http://127.0.0.1:\(otherPort)"], environment: Serve.environment)
        #expect(await linked.exitStatus() != 0)
        #expect(!FileManager.default.fileExists(atPath: second + "/nested"))
    }

    /// A server whose /tmp is its own (systemd's PrivateTmp=, here a mount namespace with a
    /// tmpfs of its own) writes a backup there that the operator cannot see and that goes
    /// when it stops: the command says so and fails, instead of reporting a backup.
    @Test(.enabled(if: getuid() == 0, "a mount namespace needs root"))
    func aBackupTheServerWroteWhereThisCommandCannotSeeItFails() async throws {
        let dir = TemporaryDirectory("chatflow-backup-private")
        defer { dir.remove() }
        let data = dir.appending("data"), privateTmp = dir.appending("private")
        try FileManager.default.createDirectory(atPath: privateTmp, withIntermediateDirectories: true)
        let (server, port) = try await Self.serveWithMount(privateTmp, data: data)
        defer { _ = server.kill() }

        let target = privateTmp + "/backup"
        let backup = try ChildProcess(["backup", "--data-dir", data, "--to", target, "--url", "http://127.0.0.1:\(port)"], environment: Serve.environment)
        #expect(await backup.exitStatus() == 1, "\(backup.lines)")
        #expect(backup.lines.joined().contains("not there as this command sees the file system"), "\(backup.lines)")
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    /// Root running a command on the service user's data directory would leave files that
    /// user's server cannot open: refused, saying whom to run it as, and nothing written.
    /// A restore, which needs root to make its copy beside the directory, gives the copy to
    /// the directory's owner.
    @Test(.enabled(if: getuid() == 0, "only root can act on another user's directory"))
    func rootLeavesAnotherUsersDataDirectoryAlone() async throws {
        let dir = TemporaryDirectory("chatflow-other-owner")
        defer { dir.remove() }
        let (source, good) = try await Self.dataAndBackup(in: dir, events: 100)
        let nobody = try #require(getpwnam("nobody"))
        try #require(chown(source, nobody.pointee.pw_uid, nobody.pointee.pw_gid) == 0)
        let before = try FileManager.default.contentsOfDirectory(atPath: source).sorted()
        for command in [["verify"], ["rebuild"]] {
            let errors = dir.appending("\(command[0]).err")
            let child = try ChildProcess(command + ["--data-dir", source], environment: Serve.environment, errorFile: errors)
            #expect(await child.exitStatus() == 74, "\(command[0])")
            #expect(try String(contentsOfFile: errors, encoding: .utf8).contains("belongs to nobody"), "\(command[0])")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: source).sorted() == before)

        // serve is refused before it writes anything there (the JWT secret it would make).
        let serveErrors = dir.appending("serve.err")
        var environment = Serve.environment
        environment["CHATFLOW_JWT_SECRET"] = nil
        let serve = try ChildProcess(["serve", "--data-dir", source, "--port", "\(try Serve.freePort())"], environment: environment, errorFile: serveErrors)
        #expect(await serve.exitStatus() == 74)
        #expect(try FileManager.default.contentsOfDirectory(atPath: source).sorted() == before)

        func expectNobodys(_ root: String) {
            let names = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []
            #expect(!names.isEmpty)
            for path in [root] + names.map({ root + "/" + $0 }) {
                var info = stat()
                #expect(lstat(path, &info) == 0 && info.st_uid == nobody.pointee.pw_uid, "\(path) is not nobody's")
            }
        }
        #expect(await (try ChildProcess(["restore", "--from", good, "--force", "--data-dir", source])).exitStatus() == 0)
        expectNobodys(source)
        // Run again after one stopped between its renames (the data set aside, none in place):
        // the owner is that of what it set aside.
        try #require(rename(source, ChatFlowEngine.replacedPath(of: source)) == 0)
        #expect(await (try ChildProcess(["restore", "--from", good, "--force", "--data-dir", source])).exitStatus() == 0)
        expectNobodys(source)
    }

    /// `serve` on `data` in a mount namespace of its own, where a tmpfs (of `size`) is
    /// mounted at `mountPoint`: a directory the server sees and this process does not.
    private static func serveWithMount(_ mountPoint: String, size: String? = nil, data: String) async throws -> (ChildProcess, Int) {
        let port = try Serve.freePort()
        let options = size.map { "-o size=\($0) " } ?? ""
        let server = try ChildProcess(
            ["--mount", "--propagation", "private", "/bin/sh", "-c",
             "mount -t tmpfs \(options)tmpfs '\(mountPoint)' && exec '\(ChildProcess.binary)' serve --data-dir '\(data)' --port \(port)"],
            environment: Serve.environment, executable: "/usr/bin/unshare")
        do {
            try await Serve.waitReady(port: port)
        } catch {
            _ = server.kill()
            throw error
        }
        return (server, port)
    }

    /// A backup to a disk without room for it is said as such (507), not as the data disk
    /// being full (503): the server's writes go on.
    @Test(.enabled(if: getuid() == 0, "a mount namespace needs root"))
    func aBackupWithoutRoomSaysItIsTheBackupsDisk() async throws {
        let dir = TemporaryDirectory("chatflow-backup-full")
        defer { dir.remove() }
        let data = dir.appending("data"), small = dir.appending("small")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        #expect(await (try ChildProcess(["bench", "append", "--events", "5000", "--data-dir", data])).exitStatus() == 0)
        let (server, port) = try await Self.serveWithMount(small, size: "256k", data: data)
        defer { _ = server.kill() }

        let backup = try ChildProcess(["backup", "--data-dir", data, "--to", small + "/backup", "--url", "http://127.0.0.1:\(port)"], environment: Serve.environment)
        #expect(await backup.exitStatus() == 1, "\(backup.lines)")
        let said = backup.lines.joined(separator: "\n")
        #expect(said.contains("507") && said.contains("no space left for the backup") && !said.contains("writes are paused"), "\(said)")
        let client = APIClient(port: port, token: nil)
        defer { client.invalidate() }
        #expect(try await client.call("GET", "/readyz").status == 200, "the data disk is not full")
    }

    /// Nothing an operator mistypes or a damaged backup can cost data: a backup with files
    /// missing is refused before the directory it would replace is touched, a file is not a
    /// data directory, and a path with no data in it is not verified or backed up as empty.
    @Test func restoreAndFriendsRefuseWhatWouldCostData() async throws {
        let dir = TemporaryDirectory("chatflow-restore-refusals")
        defer { dir.remove() }
        let files = FileManager.default
        let (source, good) = try await Self.dataAndBackup(in: dir, events: 3000)
        let live = dir.appending("live")
        #expect(await (try ChildProcess(["restore", "--from", good, "--data-dir", live])).exitStatus() == 0)

        // A backup whose table files are gone.
        let broken = dir.appending("broken")
        try files.copyItem(atPath: good, toPath: broken)
        let tables = try files.contentsOfDirectory(atPath: broken).filter { $0.hasSuffix(".sst") }
        try #require(!tables.isEmpty, "the backup should hold table files")
        for table in tables { try files.removeItem(atPath: broken + "/" + table) }
        let errors = dir.appending("restore.err")
        let refused = try ChildProcess(["restore", "--from", broken, "--data-dir", live, "--force"], errorFile: errors)
        #expect(await refused.exitStatus() == 74, "the backup cannot be read: an input/output failure, as other commands report one")
        // One without its CURRENT file is damaged too; a path that is not there says so.
        let headless = dir.appending("headless")
        try files.copyItem(atPath: good, toPath: headless)
        try files.removeItem(atPath: headless + "/CURRENT")
        let headlessErrors = dir.appending("headless.err")
        #expect(await (try ChildProcess(["restore", "--from", headless, "--data-dir", live, "--force"], errorFile: headlessErrors)).exitStatus() == 74)
        #expect(try String(contentsOfFile: headlessErrors, encoding: .utf8).contains("no CURRENT file; it is damaged"))
        let missingErrors = dir.appending("missing.err")
        #expect(await (try ChildProcess(["restore", "--from", dir.appending("nowhere"), "--data-dir", live, "--force"], errorFile: missingErrors)).exitStatus() == 74)
        #expect(try String(contentsOfFile: missingErrors, encoding: .utf8).contains("it does not exist"))
        #expect(try String(contentsOfFile: errors, encoding: .utf8).contains("was left as it was"))
        #expect(!files.fileExists(atPath: live + ".restoring"))
        // One whose change log has a damaged block (bytes flipped in a table of the log's
        // events): a backup of a directory whose projections are up to date, which opening
        // it reads nothing of; the check of every block does.
        let caughtUp = dir.appending("caught-up")
        #expect(await (try ChildProcess(["backup", "--data-dir", live, "--to", caughtUp], environment: Serve.environment)).exitStatus() == 0)
        let flipped = dir.appending("flipped")
        try files.copyItem(atPath: caughtUp, toPath: flipped)
        let logTable = try #require(try files.contentsOfDirectory(atPath: flipped).filter { $0.hasSuffix(".sst") }.first { name in
            try Data(contentsOf: URL(fileURLWithPath: flipped + "/" + name)).range(of: Data(LogKeys.eventsFamily.utf8)) != nil
        }, "the backup should hold a table of the log's events")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: flipped + "/" + logTable))
        for offset in bytes.count / 4..<(bytes.count / 4 + 8) { bytes[offset] ^= 0xFF }
        try bytes.write(to: URL(fileURLWithPath: flipped + "/" + logTable))
        let flippedErrors = dir.appending("flipped.err")
        #expect(await (try ChildProcess(["restore", "--from", flipped, "--data-dir", live, "--force"], errorFile: flippedErrors)).exitStatus() == 74)
        let flippedSaid = try String(contentsOfFile: flippedErrors, encoding: .utf8)
        #expect(flippedSaid.contains("was left as it was") && flippedSaid.localizedCaseInsensitiveContains("corrupt"), "\(flippedSaid)")
        #expect(!files.fileExists(atPath: live + ".restoring"))
        let (verified, output) = try await Serve.verify(dataDirectory: live)
        #expect(verified == 0, "the data directory must be untouched: \(output)")

        // A file where the data directory should be.
        let file = dir.appending("notes.txt")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: file))
        #expect(await (try ChildProcess(["restore", "--from", good, "--data-dir", file])).exitStatus() == 74)
        // Commands that open it report it as they report any data directory they cannot open.
        #expect(await (try ChildProcess(["backup", "--data-dir", file, "--to", dir.appending("from-a-file")], environment: Serve.environment)).exitStatus() == 74)
        #expect(await (try ChildProcess(["bench", "append", "--events", "10", "--data-dir", file])).exitStatus() == 74)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "keep me")
        // A directory of something else (a mistyped --data-dir): --force does not replace it.
        let elsewhere = dir.appending("notes")
        try files.createDirectory(atPath: elsewhere, withIntermediateDirectories: false)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: elsewhere + "/notes.txt"))
        let foreignErrors = dir.appending("foreign.err")
        #expect(await (try ChildProcess(["restore", "--from", good, "--data-dir", elsewhere, "--force"], errorFile: foreignErrors)).exitStatus() == 64)
        #expect(try String(contentsOfFile: foreignErrors, encoding: .utf8).contains("not ChatFlow data (notes.txt)"))
        #expect(await (try ChildProcess(["restore", "--from", good, "--data-dir", elsewhere])).exitStatus() == 64)
        #expect(try files.contentsOfDirectory(atPath: elsewhere) == ["notes.txt"], "a refused restore leaves nothing behind, not even a LOCK file")
        #expect(try String(contentsOfFile: elsewhere + "/notes.txt", encoding: .utf8) == "mine")
        // A copy of a data directory that stopped before its CURRENT file is data: replaced.
        let halfCopy = dir.appending("half-copy")
        try files.createDirectory(atPath: halfCopy, withIntermediateDirectories: false)
        try Data("partial".utf8).write(to: URL(fileURLWithPath: halfCopy + "/000009.sst"))
        #expect(await (try ChildProcess(["restore", "--from", good, "--data-dir", halfCopy, "--force"])).exitStatus() == 0)
        #expect(files.fileExists(atPath: halfCopy + "/CURRENT"))

        // A path with no data: neither verified nor backed up, and not created either.
        let typo = dir.appending("typo")
        let verifyErrors = dir.appending("verify.err")
        let verify = try ChildProcess(["verify", "--data-dir", typo], errorFile: verifyErrors)
        #expect(await verify.exitStatus() == 74, "74: the data cannot be opened, unlike 1 for a mismatch")
        #expect(try String(contentsOfFile: verifyErrors, encoding: .utf8).contains("no ChatFlow data"))
        #expect(await (try ChildProcess(["rebuild", "--data-dir", typo])).exitStatus() == 74, "as verify and serve exit")
        // Asked for JSON, they print one object in this outcome too, for a monitor to read.
        for command in ["verify", "rebuild"] {
            let asJSON = try ChildProcess([command, "--data-dir", typo, "--json"], errorFile: dir.appending("\(command)-json.err"))
            #expect(await asJSON.exitStatus() == 74)
            let object = asJSON.lines.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect((object?["error"] as? String)?.contains("no ChatFlow data") == true, "\(command): \(asJSON.lines)")
        }
        #expect(await (try ChildProcess(["rebuild", "--data-dir", source, "--projection", "nope"])).exitStatus() == 64, "a usage error, not 1 (differs)")
        let emptyBackup = try ChildProcess(["backup", "--data-dir", typo, "--to", dir.appending("empty-backup")], environment: Serve.environment)
        #expect(await emptyBackup.exitStatus() != 0)
        #expect(!files.fileExists(atPath: typo) && !files.fileExists(atPath: dir.appending("empty-backup")))
        // An empty directory: the same, and nothing left in it.
        try files.createDirectory(atPath: typo, withIntermediateDirectories: false)
        #expect(await (try ChildProcess(["verify", "--data-dir", typo])).exitStatus() == 74)
        #expect(await (try ChildProcess(["rebuild", "--data-dir", typo])).exitStatus() == 74)
        #expect(try files.contentsOfDirectory(atPath: typo) == [], "verify and rebuild leave nothing behind")
    }

    /// A restore stopped between its two renames leaves no data directory, beside the
    /// restored copy and the data it replaced: every command refuses to start an empty
    /// database there, and running the restore again finishes it. A directory holding
    /// database files without CURRENT (a removal that stopped part way) is refused as
    /// damaged, and left as it is, rather than taken for a new database.
    @Test func aRestoreStoppedPartWayIsNeverTakenForAnEmptyDirectory() async throws {
        let dir = TemporaryDirectory("chatflow-restore-interrupted")
        defer { dir.remove() }
        let files = FileManager.default
        let (source, good) = try await Self.dataAndBackup(in: dir, events: 2000)

        // As a restore leaves it between its renames: the old data aside, the new beside.
        let live = dir.appending("live")
        try files.copyItem(atPath: source, toPath: live + ".replaced")
        try files.copyItem(atPath: good, toPath: live + ".restoring")
        let errors = dir.appending("verify.err")
        let verify = try ChildProcess(["verify", "--data-dir", live], errorFile: errors)
        #expect(await verify.exitStatus() == 74)
        #expect(try String(contentsOfFile: errors, encoding: .utf8).contains("did not finish"))
        #expect(!files.fileExists(atPath: live), "nothing may be created in its place")
        // Nor does minting a token create the directory there.
        let tokenErrors = dir.appending("token.err")
        let token = try ChildProcess(["token", "--user", "alice", "--data-dir", live], environment: ["CHATFLOW_JWT_SECRET": ""], errorFile: tokenErrors)
        #expect(await token.exitStatus() != 0)
        #expect(try String(contentsOfFile: tokenErrors, encoding: .utf8).contains("did not finish"))
        #expect(!files.fileExists(atPath: live), "nothing may be created in its place")
        let unforcedErrors = dir.appending("unforced.err")
        let unforced = try ChildProcess(["restore", "--from", good, "--data-dir", live], errorFile: unforcedErrors)
        #expect(await unforced.exitStatus() != 0)
        #expect(try String(contentsOfFile: unforcedErrors, encoding: .utf8).contains("did not finish"))
        let again = try ChildProcess(["restore", "--from", good, "--data-dir", live, "--force"])
        #expect(await again.exitStatus() == 0, "\(again.lines)")
        #expect(!files.fileExists(atPath: live + ".replaced") && !files.fileExists(atPath: live + ".restoring"))
        let (verified, output) = try await Serve.verify(dataDirectory: live)
        #expect(verified == 0, "\(output)")

        // Running it again from the copy it left adopts that copy, the only one there may be.
        let adopted = dir.appending("adopted")
        try files.copyItem(atPath: source, toPath: adopted + ".replaced")
        try files.copyItem(atPath: good, toPath: adopted + ".restoring")
        let adopting = try ChildProcess(["restore", "--from", adopted + ".restoring", "--data-dir", adopted, "--force"])
        #expect(await adopting.exitStatus() == 0, "\(adopting.lines)")
        #expect(try await Serve.verify(dataDirectory: adopted).0 == 0)

        // A link to a backup is followed: its files are copied, the data directory is no link.
        let link = dir.appending("link-to-good")
        try files.createSymbolicLink(atPath: link, withDestinationPath: good)
        let viaLink = dir.appending("via-link")
        #expect(await (try ChildProcess(["restore", "--from", link, "--data-dir", viaLink])).exitStatus() == 0)
        #expect((try? files.destinationOfSymbolicLink(atPath: viaLink)) == nil)
        #expect(try await Serve.verify(dataDirectory: viaLink).0 == 0)
        // And the data directory, however named, is no backup of itself.
        let selfLink = dir.appending("self-link")
        try files.createSymbolicLink(atPath: selfLink, withDestinationPath: viaLink)
        #expect(await (try ChildProcess(["restore", "--from", selfLink, "--data-dir", viaLink, "--force"])).exitStatus() != 0)
        #expect(try await Serve.verify(dataDirectory: viaLink).0 == 0)

        // A directory whose removal stopped part way: its files, but no CURRENT.
        let partial = dir.appending("partial")
        try files.copyItem(atPath: good, toPath: partial)
        try files.removeItem(atPath: partial + "/CURRENT")
        let partialErrors = dir.appending("partial.err")
        let refused = try ChildProcess(["verify", "--data-dir", partial], errorFile: partialErrors)
        #expect(await refused.exitStatus() == 74)
        #expect(try String(contentsOfFile: partialErrors, encoding: .utf8).contains("no CURRENT file"))
        #expect(!files.fileExists(atPath: partial + "/CURRENT"), "no new database may be started over its files")
    }
    /// Restores into one directory go one at a time: while another holds the lock, a
    /// restore is refused and touches nothing; once it is released, the restore runs. A
    /// backup holding something other than regular files (a FIFO, which would block the
    /// copy forever) is refused as unusable before anything is copied.
    @Test func restoresGoOneAtATimeAndReadOnlyRegularFiles() async throws {
        let dir = TemporaryDirectory("chatflow-restore-lock")
        defer { dir.remove() }
        let files = FileManager.default
        let (source, good) = try await Self.dataAndBackup(in: dir, events: 1000)

        // A data directory in use (its LOCK held, here by this process) is not a backup.
        let sourceLock = open(source + "/LOCK", O_RDWR)
        var held = flock(l_type: Int16(F_WRLCK), l_whence: Int16(SEEK_SET), l_start: 0, l_len: 0, l_pid: 0)
        try #require(sourceLock >= 0 && fcntl(sourceLock, F_SETLK, &held) == 0)
        let inUseErrors = dir.appending("in-use.err")
        #expect(await (try ChildProcess(["restore", "--from", source, "--data-dir", dir.appending("elsewhere")], errorFile: inUseErrors)).exitStatus() == 74)
        #expect(try String(contentsOfFile: inUseErrors, encoding: .utf8).contains("in use by a running server"))
        close(sourceLock)

        let live = dir.appending("live")
        let lock = open(live + ".restore-lock", O_CREAT | O_RDWR, 0o600)
        try #require(lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) == 0)
        let errors = dir.appending("locked.err")
        #expect(await (try ChildProcess(["restore", "--from", good, "--data-dir", live], errorFile: errors)).exitStatus() == 74, "in use, as a directory a server has open is")
        #expect(try String(contentsOfFile: errors, encoding: .utf8).contains("another restore into"))
        #expect(!files.fileExists(atPath: live) && !files.fileExists(atPath: live + ".restoring"), "a refused restore touches nothing")
        close(lock)
        let restore = try ChildProcess(["restore", "--from", good, "--data-dir", live])
        #expect(await restore.exitStatus() == 0, "\(restore.lines)")
        #expect(!files.fileExists(atPath: live + ".restore-lock"), "the lock is given back")

        let piped = dir.appending("piped")
        try files.copyItem(atPath: good, toPath: piped)
        try files.removeItem(atPath: piped + "/CURRENT")
        try #require(mkfifo(piped + "/CURRENT", 0o600) == 0)
        let pipedErrors = dir.appending("piped.err")
        #expect(await (try ChildProcess(["restore", "--from", piped, "--data-dir", live, "--force"], errorFile: pipedErrors)).exitStatus() == 74)
        #expect(try String(contentsOfFile: pipedErrors, encoding: .utf8).contains("CURRENT is not a regular file"))
        let (verified, output) = try await Serve.verify(dataDirectory: live)
        #expect(verified == 0, "the data directory must be untouched: \(output)")
    }

    /// A restore holds the data directory it replaces from its start to the swap: a server
    /// starting meanwhile is refused as "in use". (It used to open the directory about to be
    /// moved aside and go on writing, by path, into the restored one.) A restore stopped
    /// before the swap leaves the directory as it was beside its copy: commands refuse it
    /// until the restore is run again, so no write is served that the restore would then
    /// throw away.
    @Test func aRestoreKeepsEveryoneOutOfTheDirectoryUntilItIsDone() async throws {
        let dir = TemporaryDirectory("chatflow-restore-exclusive")
        defer { dir.remove() }
        let files = FileManager.default
        // Enough events that the restore spends seconds bringing its copy's projections up
        // to date, after its copy appears and before the swap.
        let (_, good) = try await Self.dataAndBackup(in: dir, events: 20_000)
        let live = dir.appending("live")
        let own = try ChildProcess(["bench", "append", "--events", "100", "--producers", "1", "--chats", "1", "--data-dir", live, "--json"])
        #expect(await own.exitStatus() == 0)

        let restore = try ChildProcess(["restore", "--from", good, "--data-dir", live, "--force"])
        #expect(await eventually(timeout: .seconds(60)) { files.fileExists(atPath: live + ".restoring") })
        let serveErrors = dir.appending("serve.err")
        let server = try ChildProcess(["serve", "--data-dir", live, "--port", "\(try Serve.freePort())"], environment: Serve.environment, errorFile: serveErrors)
        let refused = await eventually(timeout: .seconds(60)) { !server.isRunning }
        #expect(await restore.exitStatus() == 0, "\(restore.lines)")
        if refused {
            #expect(await server.exitStatus() == 74)
            #expect(try String(contentsOfFile: serveErrors, encoding: .utf8).contains("in use"))
        } else {
            Issue.record("a server started during the restore: \(try String(contentsOfFile: serveErrors, encoding: .utf8))")
            _ = server.stop(with: SIGTERM)
        }

        // As a restore killed before its swap leaves it: the directory as it was, the copy beside.
        try files.copyItem(atPath: good, toPath: live + ".restoring")
        let stoppedErrors = dir.appending("stopped.err")
        let stopped = try ChildProcess(["serve", "--data-dir", live, "--port", "\(try Serve.freePort())"], environment: Serve.environment, errorFile: stoppedErrors)
        #expect(await stopped.exitStatus() == 74)
        let said = try String(contentsOfFile: stoppedErrors, encoding: .utf8)
        #expect(said.contains("did not finish") && said.contains("run the restore again"), "\(said)")
        #expect(await (try ChildProcess(["verify", "--data-dir", live])).exitStatus() == 74)
        let again = try ChildProcess(["restore", "--from", good, "--data-dir", live, "--force"])
        #expect(await again.exitStatus() == 0, "\(again.lines)")
        #expect(!files.fileExists(atPath: live + ".restoring") && !files.fileExists(atPath: live + ".replaced"))
        let (verified, output) = try await Serve.verify(dataDirectory: live)
        #expect(verified == 0, "\(output)")
    }

    /// A data directory holding an older version of a projection: the first command to open
    /// it starts that projection again, and says so (the next `serve` then has nothing to
    /// say about it, as its version is current).
    @Test func aCommandThatStartsAnOlderProjectionAgainSaysSo() async throws {
        let dir = TemporaryDirectory("chatflow-older-projection")
        defer { dir.remove() }
        let data = dir.appending("data")
        let bench = try ChildProcess(["bench", "append", "--events", "300", "--producers", "2", "--chats", "2", "--data-dir", data, "--json"])
        #expect(await bench.exitStatus() == 0)
        do {
            let engine = try ChatFlowEngine(dataDirectory: data)
            defer { engine.close() }
            try engine.projector.catchUp()
            // As if the search projection had been built by another version of the code.
            let generations = try engine.database.family(ProjectionCatalog.generationsFamily)
            let batch = WriteBatch()
            batch.put(Array(SearchProjection.name.utf8), KeyWriter.build {
                $0.uint32(engine.store.generation(of: SearchProjection.name)); $0.uint32(999)
            }, in: generations)
            try engine.database.write(batch, sync: true)
        }
        let errors = dir.appending("verify.err")
        let verify = try ChildProcess(["verify", "--data-dir", data, "--json"], errorFile: errors)
        #expect(await verify.exitStatus() == 0, "\(verify.lines)")
        let said = try String(contentsOfFile: errors, encoding: .utf8)
        #expect(said.contains("verify: projection search was built by version 999; this build has version \(SearchProjection.version)"), "\(said)")
        #expect(!said.contains("projection timeline"), "only the older projection is named: \(said)")

        let again = dir.appending("verify-again.err")
        #expect(await (try ChildProcess(["verify", "--data-dir", data], errorFile: again)).exitStatus() == 0)
        #expect(try String(contentsOfFile: again, encoding: .utf8).isEmpty, "the projection is current now")
    }

    /// A data directory `dir/source` with `events` appended by `bench append`, and its
    /// offline backup in `dir/good`.
    private static func dataAndBackup(in dir: TemporaryDirectory, events: Int) async throws -> (source: String, backup: String) {
        let source = dir.appending("source")
        let bench = try ChildProcess(["bench", "append", "--events", "\(events)", "--producers", "2", "--chats", "2", "--data-dir", source, "--json"])
        #expect(await bench.exitStatus() == 0)
        let good = dir.appending("good")
        let backup = try ChildProcess(["backup", "--data-dir", source, "--to", good], environment: Serve.environment)
        #expect(await backup.exitStatus() == 0, "\(backup.lines)")
        return (source, good)
    }
}
