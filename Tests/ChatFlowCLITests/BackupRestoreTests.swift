import ChatFlowCore
import Foundation
import Testing
import ChatFlowTestSupport

/// `chatflow backup` while `serve` takes writes, then `chatflow restore` and `verify`.
@Suite(.timeLimit(.minutes(3))) struct BackupRestoreTests {
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

        let engine = try ChatFlowEngine(dataDirectory: restored)
        defer { engine.close() }
        for ack in ackedBefore {
            #expect(try engine.reader.message(try MessageID(parsing: ack.id)) != nil, "post \(ack.clientID) acknowledged before the backup is missing")
        }

        // Restoring over a non-empty directory needs --force.
        let refused = try ChildProcess(["restore", "--from", backup, "--data-dir", restored])
        #expect(await refused.exitStatus() != 0)
        let forced = try ChildProcess(["restore", "--from", backup, "--data-dir", restored, "--force"])
        engine.close()
        #expect(await forced.exitStatus() == 0, "chatflow restore --force: \(forced.lines)")
    }
}
