import ChatFlowCore
import Foundation
import Synchronization
import Testing
import ChatFlowTestSupport

/// SIGTERM `chatflow serve` while posts are in flight: it exits 0 promptly and keeps every
/// post it acknowledged, before or during the shutdown; WebSocket clients are closed first.
@Suite(.timeLimit(.minutes(3))) struct GracefulShutdownTests {
    /// WebSocket clients are told (close 1001) and, once they answer, the server exits.
    @Test func sigtermClosesWebSocketsWith1001ThenExits() async throws {
        let dir = TemporaryDirectory("chatflow-graceful-ws")
        defer { dir.remove() }
        let data = dir.appending("data")
        let (server, port) = try await Serve.start(dataDirectory: data)
        let token = try await Serve.token(user: "alice", dataDirectory: data)
        let socket = try await StalledClient.connect(port: port, token: token, frames: [#"{"op":"ping"}"#])
        try await socket.waitForText(containing: "pong")

        let exit = Mutex<Int32?>(nil)
        let waiter = Task { let status = await server.exitStatus(); exit.withLock { $0 = status } }
        kill(server.pid, SIGTERM)
        let code = try await socket.readUntilClosed()
        let exited = await eventually(timeout: .seconds(20)) { exit.withLock { $0 } != nil }
        if !exited { _ = server.kill() }
        await waiter.value
        #expect(code == 1001, "close code \(code.map(String.init) ?? "none"), after \(socket.framesRead) frames, then \(socket.ending)")
        #expect(exited, "serve was still running 20 s after SIGTERM with a WebSocket client that answered the close")
        #expect(exit.withLock { $0 } == 0, "serve exited with \(exit.withLock { $0 } ?? -1) after SIGTERM")
    }

    /// The log says what an operator waits on: a start that catches up with a log the
    /// projections have not applied (and when it has), and a stop's grace period.
    @Test func startCatchingUpAndStoppingAreLogged() async throws {
        let dir = TemporaryDirectory("chatflow-graceful-notices")
        defer { dir.remove() }
        let data = dir.appending("data")
        let bench = try ChildProcess(["bench", "append", "--events", "3000", "--producers", "2", "--chats", "2", "--data-dir", data, "--json"])
        #expect(await bench.exitStatus() == 0)
        let log = dir.appending("serve.err")
        let (server, port) = try await Serve.start(dataDirectory: data, errorFile: log)
        try await Serve.waitReady(port: port)
        #expect(await Self.terminate(server, waiting: .seconds(20)) == 0)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        for line in ["catching up: the projections are applying the log up to", "caught up in", "stopping: requests in flight have up to 10 s"] {
            #expect(text.contains(line), "'\(line)' is not in the log: \(text)")
        }
    }

    /// A hang-up (the terminal of a `serve` started by hand closing) stops the server as
    /// SIGTERM does, instead of ending it on the spot with its memtables unwritten.
    @Test func aHangUpStopsTheServerAsATermDoes() async throws {
        let dir = TemporaryDirectory("chatflow-graceful-hangup")
        defer { dir.remove() }
        let log = dir.appending("serve.err")
        let (server, port) = try await Serve.start(dataDirectory: dir.appending("data"), errorFile: log)
        try await Serve.waitReady(port: port)
        #expect(await Self.terminate(server, with: SIGHUP, waiting: .seconds(20)) == 0)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("stopping: requests in flight have up to 10 s"), "\(text)")
    }

    /// Connections that have not sent a whole request yet (nothing at all, or half a head)
    /// are closed at once by a graceful shutdown instead of holding it up until they idle out.
    @Test func sigtermDoesNotWaitForConnectionsThatSentNoRequest() async throws {
        let dir = TemporaryDirectory("chatflow-graceful-idle")
        defer { dir.remove() }
        let (server, port) = try await Serve.start(dataDirectory: dir.appending("data"), environment: ["CHATFLOW_HTTP_IDLE_SECONDS": "3600"])
        let silent = try await StalledClient.open(port: port)
        let halfHead = try await StalledClient.open(port: port, sending: "GET /healthz HTTP/1.1\r\nHost: 127.")
        // Connections are accepted in the order they were made: once a later one is answered,
        // the server holds these two.
        let client = APIClient(port: port, token: nil)
        defer { client.invalidate() }
        #expect(try await client.call("GET", "/healthz").status == 200)

        let status = await Self.terminate(server, waiting: .seconds(20))
        #expect(status != nil, "serve was still running 20 s after SIGTERM, held by connections that never sent a request")
        #expect(status == 0)
        _ = try await silent.secondsUntilClosed()
        _ = try await halfHead.secondsUntilClosed()
    }

    /// A request whose body stops coming holds a stop for the grace period only
    /// (`CHATFLOW_SHUTDOWN_GRACE_SECONDS`), not until the connection idles out; the log says
    /// so as the stop begins, not once the grace is over.
    @Test func sigtermWaitsForAHalfSentBodyOnlyUntilTheGraceEnds() async throws {
        let dir = TemporaryDirectory("chatflow-graceful-body")
        defer { dir.remove() }
        let data = dir.appending("data")
        let log = dir.appending("serve.err")
        let (server, port) = try await Serve.start(
            dataDirectory: data, environment: ["CHATFLOW_HTTP_IDLE_SECONDS": "3600", "CHATFLOW_SHUTDOWN_GRACE_SECONDS": "10"], errorFile: log)
        let token = try await Serve.token(user: "alice", dataDirectory: data)
        let halfBody = try await StalledClient.open(port: port, sending: "POST /chats HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + "Authorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":")
        let client = APIClient(port: port, token: nil)
        defer { client.invalidate() }
        #expect(try await client.call("GET", "/healthz").status == 200)

        let exit = Mutex<Int32?>(nil)
        let waiter = Task { let status = await server.exitStatus(); exit.withLock { $0 = status } }
        kill(server.pid, SIGTERM)
        let noticed = await eventually(timeout: .seconds(8)) {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("stopping: requests in flight have up to 10 s")
        }
        #expect(noticed && exit.withLock { $0 } == nil, "the stop was not logged while the grace ran (exited: \(exit.withLock { $0 }.map(String.init) ?? "not yet"))")
        let exited = await eventually(timeout: .seconds(30)) { exit.withLock { $0 } != nil }
        if !exited { _ = server.kill() }
        await waiter.value
        let status = exited ? exit.withLock { $0 } : nil
        #expect(status != nil, "serve was still running 30 s after SIGTERM, held by a request whose body never came")
        #expect(status == 0)
        _ = try await halfBody.secondsUntilClosed()
    }

    /// Sends SIGTERM and waits up to `limit` for the exit status; nil (and the process
    /// killed) when it has not exited by then.
    private static func terminate(_ server: ChildProcess, with signal: Int32 = SIGTERM, waiting limit: Duration) async -> Int32? {
        let exit = Mutex<Int32?>(nil)
        let waiter = Task { let status = await server.exitStatus(); exit.withLock { $0 = status } }
        kill(server.pid, signal)
        let exited = await eventually(timeout: limit) { exit.withLock { $0 } != nil }
        if !exited { _ = server.kill() }
        await waiter.value
        return exited ? exit.withLock { $0 } : nil
    }

    @Test func sigtermDuringPostsExitsZeroAndKeepsAcknowledgedPosts() async throws {
        let dir = TemporaryDirectory("chatflow-graceful")
        defer { dir.remove() }
        let data = dir.appending("data")
        let workers = 8

        let (server, port) = try await Serve.start(dataDirectory: data)
        let token = try await Serve.token(user: "alice", dataDirectory: data)
        let client = APIClient(port: port, token: token)
        let chat = try await Serve.createChat(client, name: "graceful")

        let load = PostLoad()
        let loader = Task { await load.run(client, chat: chat, workers: workers, label: "term") }
        let target = Int.random(in: 30...200)
        let reached = await eventually(timeout: .seconds(90)) { load.ackCount >= target }
        #expect(reached, "only \(load.ackCount) of \(target) posts were acknowledged before the deadline")
        #expect(load.unexpected.isEmpty, "posts failed before SIGTERM: \(load.unexpected.prefix(5))")

        // Wait for the exit on a separate task; poll it with a deadline.
        let exit = Mutex<Int32?>(nil)
        let waiter = Task { let status = await server.exitStatus(); exit.withLock { $0 = status } }
        load.expectFailures()
        let ackedBeforeSignal = load.ackCount
        let signalled = ContinuousClock.now
        kill(server.pid, SIGTERM)
        let exited = await eventually(timeout: .seconds(20)) { exit.withLock { $0 } != nil }
        let elapsed = ContinuousClock.now - signalled
        if !exited { _ = server.kill() }
        await waiter.value
        load.stop()
        await loader.value
        client.invalidate()
        #expect(exited, "serve was still running 20 s after SIGTERM")
        #expect(exit.withLock { $0 } == 0, "serve exited with \(exit.withLock { $0 } ?? -1) after SIGTERM")
        let acks = load.acks
        print("graceful shutdown: \(acks.count) acknowledged (\(acks.count - ackedBeforeSignal) after SIGTERM), exit after \(elapsed)")

        // Everything acknowledged is in the data directory, once.
        let (status, output) = try await Serve.verify(dataDirectory: data)
        #expect(status == 0, "chatflow verify: \(output)")
        let engine = try ChatFlowEngine(dataDirectory: data)
        defer { engine.close() }
        var stored: [MessageView] = []
        var cursor: String?
        repeat {
            let page = try engine.reader.messages(in: try ChatID(parsing: chat), cursor: cursor, limit: 100, direction: .newer)
            stored += page.items
            cursor = page.nextCursor
        } while cursor != nil
        var occurrences: [String: Int] = [:]
        for message in stored { occurrences[message.id, default: 0] += 1 }
        let missing = acks.filter { occurrences[$0.id] == nil }
        #expect(missing.isEmpty, "\(missing.count) of \(acks.count) acknowledged posts are missing, e.g. \(missing.prefix(5))")
        #expect(occurrences.allSatisfy { $0.value == 1 }, "a message was stored twice")
        #expect(Set(stored.map(\.content)).count == stored.count, "a clientMessageId was stored twice")
        #expect(stored.count <= acks.count + workers, "\(stored.count) stored, \(acks.count) acknowledged")
    }
}
