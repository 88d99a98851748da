import Foundation
import Testing
import ChatFlowTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `chatflow serve` on a small tmpfs that fills up: writes get 503 and change nothing,
/// reads go on, `/readyz` says why, and writes come back by themselves once space is freed.
/// Mounting needs root (as on the CI machine).
@Suite(.timeLimit(.minutes(2)), .enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
struct DiskFullTests {
    @Test func aFullDiskPausesWritesButNotReadsAndWritesResumeWhenSpaceIsFreed() async throws {
        let dir = TemporaryDirectory("chatflow-diskfull")
        defer { dir.remove() }
        let mountPoint = try smallDisk(in: dir)
        defer { try? Serve.runTool("/bin/umount", "-l", mountPoint) }
        let data = mountPoint + "/data"

        let serverLog = dir.appending("serve.log")
        let (server, port) = try await Serve.start(dataDirectory: data, environment: ["CHATFLOW_DISK_RESERVE_MB": "16"], errorFile: serverLog)
        defer { _ = server.kill() }
        let token = try await Serve.token(user: "alice", dataDirectory: data)
        let client = APIClient(port: port, token: token)
        defer { client.invalidate() }
        let chat = try await Serve.createChat(client, name: "full")
        let before = try await client.call("POST", "/chats/\(chat)/messages", json: Serve.postBody("before"))
        #expect(before.status == 201)

        // Fill the disk to 8 MiB short of full: under the 16 MiB reserve.
        let filler = mountPoint + "/filler"
        let free = try freeBytes(mountPoint)
        try Data(count: Int(free) - (8 << 20)).write(to: URL(fileURLWithPath: filler))
        let lastBefore = try await client.call("GET", "/chats/\(chat)/messages?limit=50")

        // The server samples free space at most every 100 ms: once /readyz says the disk is
        // full, every write is refused until space is freed.
        let noticed = try await eventually(timeout: .seconds(10)) {
            let ready = try await client.call("GET", "/readyz")
            return ready.status == 503 && ready.text.contains("disk")
        }
        #expect(noticed, "/readyz never reported the full disk")
        let metricsWhileFull = try await client.call("GET", "/metrics").text
        #expect(metricsWhileFull.contains(#"chatflow_writes_refused{reason="disk_full"} 1"#), "\(metricsWhileFull)")
        #expect(metricsWhileFull.contains(#"chatflow_writes_refused{reason="store_failed"} 0"#), "\(metricsWhileFull)")
        let refused = try await client.call("POST", "/chats/\(chat)/messages", json: Serve.postBody("during"))
        #expect(refused.status == 503, "a post was accepted on a full disk: \(refused.status)")
        let problem = try await client.call("POST", "/chats/\(chat)/messages", json: Serve.postBody("during-2"))
        #expect(problem.status == 503)
        #expect(problem.text.contains("disk"), "problem detail: \(problem.text)")
        // Reads go on and show nothing of the refused writes.
        let during = try await client.call("GET", "/chats/\(chat)/messages?limit=50")
        #expect(during.status == 200)
        #expect(during.text == lastBefore.text)

        // Free the space: writes come back without a restart.
        try FileManager.default.removeItem(atPath: filler)
        let resumed = try await eventually(timeout: .seconds(10)) {
            try await client.call("POST", "/chats/\(chat)/messages", json: Serve.postBody("after")).status == 201
        }
        #expect(resumed, "writes did not resume after space was freed")
        #expect(try await client.call("GET", "/readyz").status == 200)
        #expect(try await client.call("GET", "/metrics").text.contains(#"chatflow_writes_refused{reason="disk_full"} 0"#))
        let messages = try await Serve.allMessages(client, chat: chat).map(\.content)
        #expect(messages.contains("before") && messages.contains("after"))
        #expect(!messages.contains("during") && !messages.contains("during-2"))
        // Both changes are in the server's log, once each.
        let log = try String(contentsOfFile: serverLog, encoding: .utf8)
        #expect(log.components(separatedBy: "refusing writes: the disk of").count == 2, "\(log)")
        #expect(log.components(separatedBy: "accepting writes again").count == 2, "\(log)")
    }

    /// A disk already under the reserve when the server starts is said in its log then,
    /// not at the first write (which may come much later).
    @Test func aDiskUnderTheReserveAtTheStartIsSaidAtOnce() async throws {
        let dir = TemporaryDirectory("chatflow-diskfull-start")
        defer { dir.remove() }
        let serverLog = dir.appending("serve.log")
        let (server, port) = try await Serve.start(dataDirectory: dir.appending("data"), environment: ["CHATFLOW_DISK_RESERVE_MB": "1048576"], errorFile: serverLog)
        defer { _ = server.kill() }
        let said = await eventually(timeout: .seconds(10)) {
            ((try? String(contentsOfFile: serverLog, encoding: .utf8)) ?? "").contains("refusing writes: the disk of")
        }
        #expect(said, "nothing in the log about the full disk before any request")
        let client = APIClient(port: port, token: nil)
        defer { client.invalidate() }
        #expect(try await client.call("GET", "/readyz").status == 503)
    }

    /// With no byte left on the disk, nothing stops the process: a backup asked of the
    /// server fails and says so, a command opening the directory says it is in use, and
    /// the server stops cleanly on SIGTERM (RocksDB's own log file, written again after a
    /// failed write, aborted each of them).
    @Test func nothingStopsTheProcessWhenTheDiskIsFull() async throws {
        let dir = TemporaryDirectory("chatflow-diskfull-zero")
        defer { dir.remove() }
        let mountPoint = try smallDisk(in: dir)
        defer { try? Serve.runTool("/bin/umount", "-l", mountPoint) }
        let data = mountPoint + "/data"
        let serverLog = dir.appending("serve.log")
        let (server, port) = try await Serve.start(dataDirectory: data, environment: ["CHATFLOW_DISK_RESERVE_MB": "1"], errorFile: serverLog)
        defer { _ = server.kill() }
        let client = APIClient(port: port, token: try await Serve.token(user: "alice", dataDirectory: data))
        defer { client.invalidate() }
        let chat = try await Serve.createChat(client, name: "full")
        for i in 0..<50 {
            #expect(try await client.call("POST", "/chats/\(chat)/messages", json: Serve.postBody("m\(i)")).status == 201)
        }

        // Every byte taken: large writes, then small ones, until the disk refuses.
        let filler = open(mountPoint + "/filler", O_WRONLY | O_CREAT, 0o600)
        try #require(filler >= 0)
        for size in [1 << 20, 4096, 1] {
            let chunk = [UInt8](repeating: 0, count: size)
            while chunk.withUnsafeBytes({ write(filler, $0.baseAddress, size) }) > 0 {}
        }
        close(filler)

        let admin = try ChildProcess(["token", "--user", "ops", "--admin", "--data-dir", data], environment: Serve.environment)
        #expect(await admin.exitStatus() == 0)
        let operators = APIClient(port: port, token: try #require(admin.lines.last { !$0.isEmpty }))
        defer { operators.invalidate() }
        let backup = try await operators.call("POST", "/admin/backup", json: #"{"to":"\#(dir.appending("backup"))"}"#)
        #expect(backup.status >= 400, "\(backup.status) \(backup.text)")
        #expect(try await client.call("GET", "/healthz").status == 200, "the server is still up after the backup failed")

        let verifyErrors = dir.appending("verify.err")
        let verify = try ChildProcess(["verify", "--data-dir", data], errorFile: verifyErrors)
        #expect(await verify.exitStatus() == 74)
        #expect(!verify.endedBySignal)
        #expect(try String(contentsOfFile: verifyErrors, encoding: .utf8).contains("in use"))

        _ = server.stop(with: SIGTERM)
        let ending = (try? String(contentsOfFile: serverLog, encoding: .utf8).suffix(2000)) ?? ""
        #expect(!server.endedBySignal, "serve was ended by a signal: \(ending)")
    }

    /// A 64 MiB tmpfs mounted in `dir`; the caller unmounts it.
    private func smallDisk(in dir: TemporaryDirectory) throws -> String {
        let mountPoint = dir.appending("small")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try Serve.runTool("/bin/mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mountPoint)
        return mountPoint
    }

    private func freeBytes(_ path: String) throws -> UInt64 {
        let attributes = try FileManager.default.attributesOfFileSystem(forPath: path)
        return (attributes[.systemFreeSize] as? NSNumber)?.uint64Value ?? 0
    }
}
