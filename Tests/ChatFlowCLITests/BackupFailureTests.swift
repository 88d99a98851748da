import ChatFlowCore
import Foundation
import Testing
import ChatFlowTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `chatflow backup` when it cannot be done: the operator is told why and what to change,
/// the command exits 1, and no backup directory is left behind.
@Suite(.timeLimit(.minutes(2))) struct BackupFailureTests {
    /// The running server writes the backup itself, so the target must be writable to it:
    /// when it is not, the answer says so and how to fix it, not just "500".
    @Test func aBackupIntoADirectoryTheServerCannotWriteSaysSo() async throws {
        let dir = TemporaryDirectory("chatflow-backup-unwritable")
        defer { dir.remove() }
        let data = dir.appending("data")
        let shut = dir.appending("shut")
        try FileManager.default.createDirectory(atPath: shut, withIntermediateDirectories: true)
        // Root writes through any permissions: there (as on CI) the directory is a read-only
        // mount instead, as `ProtectSystem=strict` makes every path outside `ReadWritePaths`.
        let asRoot = getuid() == 0
        if asRoot {
            // Root not allowed to mount (an unprivileged container) has no way to make one.
            guard (try? Serve.runTool("/bin/mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", shut)) != nil else { return }
        } else {
            #expect(chmod(shut, 0o555) == 0)
        }
        defer { if asRoot { try? Serve.runTool("/bin/umount", "-l", shut) } else { chmod(shut, 0o755) } }

        let (server, port) = try await Serve.start(dataDirectory: data)
        defer { _ = server.kill() }
        // As the command passes it on: standardized.
        let target = URL(fileURLWithPath: shut + "/backup").standardizedFileURL.path
        let backup = try ChildProcess(
            ["backup", "--data-dir", data, "--to", target, "--url", "http://127.0.0.1:\(port)"],
            environment: Serve.environment)
        #expect(await backup.exitStatus() == 1)
        let output = backup.lines.joined(separator: "\n")
        #expect(output.contains("backup failed: the server at http://127.0.0.1:\(port) answered 500"), "\(output)")
        #expect(output.contains("the server cannot write \(target)"), "\(output)")
        #expect(output.contains("must be writable by the server's user") && output.contains("ReadWritePaths"), "\(output)")
        #expect(!FileManager.default.fileExists(atPath: target))
        let client = APIClient(port: port, token: nil)
        defer { client.invalidate() }
        #expect(try await client.call("GET", "/readyz").status == 200, "the server goes on")

        // With the server stopped the command writes the backup itself, and names the target.
        _ = server.kill()
        let offline = try ChildProcess(["backup", "--data-dir", data, "--to", target], environment: Serve.environment)
        #expect(await offline.exitStatus() == 1)
        let offlineOutput = offline.lines.joined(separator: "\n")
        #expect(offlineOutput.contains("backup failed: cannot write \(target)"), "\(offlineOutput)")
        #expect(!offlineOutput.contains("data directory"), "\(offlineOutput)")
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    /// An online backup into a path that cannot be one is refused (400), and nothing is written.
    @Test func anOnlineBackupIntoABadPathIsRefused() async throws {
        let dir = TemporaryDirectory("chatflow-backup-bad-path")
        defer { dir.remove() }
        let data = dir.appending("data")
        let (server, port) = try await Serve.start(dataDirectory: data)
        defer { _ = server.kill() }
        let minted = try ChildProcess(["token", "--user", "ops", "--admin", "--data-dir", data], environment: Serve.environment)
        #expect(await minted.exitStatus() == 0)
        let adminToken = try #require(minted.lines.last { !$0.isEmpty })
        let admin = APIClient(port: port, token: adminToken)
        defer { admin.invalidate() }
        for (to, words) in [(dir.appending("missing/deeper/backup"), "is not an existing directory"),
                            (dir.appending("backup\\u0000x"), "control characters"),
                            ("relative/backup", "absolute path"),
                            // A name the file system takes, but not with the checkpoint's ".tmp" added.
                            (dir.appending(String(repeating: "b", count: 252)), "at most 251")] {
            let reply = try await admin.call("POST", "/admin/backup", json: #"{"to":"\#(to)"}"#)
            #expect(reply.status == 400 && reply.text.contains(words), "\(to): \(reply.status) \(reply.text)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appending("backup")), "a backup was written")
        #expect(!FileManager.default.fileExists(atPath: dir.appending("missing")))
    }

    /// With the data directory in use, the command asks the server; when none answers where
    /// it looked, it says where that was and which settings point it elsewhere.
    @Test func aBackupWithNoServerAnsweringSaysWhatToSet() async throws {
        let dir = TemporaryDirectory("chatflow-backup-no-server")
        defer { dir.remove() }
        let data = dir.appending("data")
        // In use, as while `serve` runs: this process holds the database's lock.
        let engine = try ChatFlowEngine(dataDirectory: data)
        defer { engine.close() }
        // Nothing answers there: a port bound but not listened on refuses every connection,
        // and nothing else can take it meanwhile.
        let port = try RefusingPort()
        defer { port.close() }
        let target = dir.appending("backup")

        // Where it looks comes from CHATFLOW_HOST and CHATFLOW_PORT, as `serve` reads them...
        let fromEnvironment = try ChildProcess(
            ["backup", "--data-dir", data, "--to", target],
            environment: Serve.environment.merging(["CHATFLOW_HOST": "127.0.0.1", "CHATFLOW_PORT": "\(port.number)"]) { $1 })
        #expect(await fromEnvironment.exitStatus() == 1)
        let output = fromEnvironment.lines.joined(separator: "\n")
        #expect(output.contains("backup failed: \(data) is in use"), "\(output)")
        #expect(output.contains("no server answered at http://127.0.0.1:\(port.number)"), "\(output)")
        #expect(output.contains("pass --url, or set CHATFLOW_HOST/CHATFLOW_PORT"), "\(output)")

        // ...or from --url, ahead of them.
        let fromURL = try ChildProcess(
            ["backup", "--data-dir", data, "--to", target, "--url", "http://127.0.0.1:\(port.number)"],
            environment: Serve.environment.merging(["CHATFLOW_PORT": "1"]) { $1 })
        #expect(await fromURL.exitStatus() == 1)
        #expect(fromURL.lines.joined().contains("no server answered at http://127.0.0.1:\(port.number)"), "\(fromURL.lines)")
        #expect(fromURL.lines.joined().contains("check that --url is the server's"), "not told to pass the --url it gave: \(fromURL.lines)")
        #expect(!FileManager.default.fileExists(atPath: target))
    }
}

/// A loopback port bound but never listened on: connecting to it is refused at once.
private struct RefusingPort {
    let number: Int
    private let socket: Int32

    init() throws {
        (socket, number) = try Serve.boundLoopbackSocket()
    }

    func close() { Glibc.close(socket) }
}
