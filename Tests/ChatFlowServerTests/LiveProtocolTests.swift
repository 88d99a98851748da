import ChatFlowCore
@testable import ChatFlowServer
import ChatFlowTestSupport
import Foundation
import NIOCore
import NIOEmbedded
import Testing

/// The WebSocket protocol itself, spoken byte by byte by a raw client: pings, fragments,
/// binary and oversized frames, the close handshake a client starts, and upgrades that
/// must be refused.
@Suite(.timeLimit(.minutes(2))) struct LiveProtocolTests {
    private static let (text, binary, close, ping, pong, continuation): (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0x1, 0x2, 0x8, 0x9, 0xA, 0x0)

    private static func socket(_ server: TestServer, as user: String = "alice") async throws -> StalledClient {
        try await StalledClient.connect(port: server.port, token: try await server.token(user), frames: [])
    }

    private static func closeCode(_ frame: (opcode: UInt8, payload: [UInt8])?) -> UInt16? {
        guard let frame, frame.opcode == close, frame.payload.count >= 2 else { return nil }
        return UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1])
    }

    @Test func aPingIsAnsweredWithItsPayloadAndBinaryIsRefused() async throws {
        try await TestServer.run(configure: { $0.webSocketCloseGraceSeconds = 1 }) { server in
            let client = try await Self.socket(server)
            try await client.send(opcode: Self.ping, Array("are you there".utf8))
            let pong = try await client.readFrame()
            #expect(pong?.opcode == Self.pong && pong?.payload == Array("are you there".utf8), "\(String(describing: pong))")

            try await client.send(opcode: Self.binary, [1, 2, 3])
            let error = try await client.readFrame()
            let errorText = String(decoding: error?.payload ?? [], as: UTF8.self)
            #expect(error?.opcode == Self.text && errorText.contains("frames are JSON text"), "\(errorText)")
        }
    }

    @Test func aFragmentedMessageIsHandledAsOne() async throws {
        try await TestServer.run(configure: { $0.webSocketCloseGraceSeconds = 1 }) { server in
            let client = try await Self.socket(server)
            try await client.send(opcode: Self.text, Array(#"{"op":"#.utf8), fin: false)
            // A control frame may come between the fragments of a message.
            try await client.send(opcode: Self.ping, [7])
            try await client.send(opcode: Self.continuation, Array(#""ping"}"#.utf8))
            let first = try await client.readFrame()
            let second = try await client.readFrame()
            #expect(first?.opcode == Self.pong && first?.payload == [7], "\(String(describing: first))")
            let secondText = String(decoding: second?.payload ?? [], as: UTF8.self)
            #expect(second?.opcode == Self.text && secondText == #"{"type":"pong"}"#, "\(secondText)")
        }
    }

    @Test func aCloseTheClientStartsIsAnsweredWithItsCodeThenTheSocketEnds() async throws {
        try await TestServer.run(configure: { $0.webSocketCloseGraceSeconds = 1 }) { server in
            let client = try await Self.socket(server)
            try await client.send(opcode: Self.close, [0x10, 0xE1] + Array("bye".utf8))  // 4321
            let answer = try await client.readFrame()
            #expect(Self.closeCode(answer) == 4321, "\(String(describing: answer))")
            #expect(try await client.readFrame() == nil, "the server should close the socket after the handshake")

            // A code no peer may send (1005 means "none was given") is a protocol error: 1002.
            let other = try await Self.socket(server)
            try await other.send(opcode: Self.close, [0x03, 0xED])
            let plain = try await other.readFrame()
            #expect(Self.closeCode(plain) == 1002, "\(String(describing: plain))")
            #expect(try await eventually(timeout: .seconds(10)) {
                try await server.call(.get, "/metrics", as: nil).text.contains("chatflow_websocket_connections 0")
            })
        }
    }

    /// Without this the server's side of the socket stayed open until the next unanswered
    /// ping (30 s and more), and a storm of reconnects piled up connections. Whether the
    /// client's socket ends its stream or is reset, subscribed or not, and delivery to the
    /// others goes on.
    @Test(arguments: [false, true])
    func aClientThatVanishesWithoutACloseFrameIsLetGoAtOnce(reset: Bool) async throws {
        try await TestServer.run(configure: { $0.webSocketCloseGraceSeconds = 1 }) { server in
            let chat = try await server.createChat("alice")
            // One at a time: each connect blocks a dispatch thread until the upgrade is done.
            var clients: [StalledClient] = []
            for _ in 0..<3 { clients.append(try await Self.socket(server)) }
            for _ in 0..<2 { clients.append(try await StalledClient.connect(server, as: "alice", subscribingTo: chat)) }
            #expect(try await eventually(timeout: .seconds(10)) {
                try await server.call(.get, "/metrics", as: nil).text.contains("chatflow_websocket_connections 5")
            })
            for client in clients {
                if reset { client.reset() } else { client.drop() }
            }
            #expect(try await eventually(timeout: .seconds(10)) {
                try await server.call(.get, "/metrics", as: nil).text.contains("chatflow_websocket_connections 0")
            }, "connections still open after their clients went away")

            let alice = try await LiveClient.connect(server, as: "alice")
            try await alice.subscribe("chats/\(chat)")
            let posted = try await server.post(chat, as: "alice", "after")
            #expect(await alice.wait { _ in
                alice.events(on: "chats/\(chat)").contains { ($0["event"] as? [String: Any])?["messageId"] as? String == posted }
            })
            await alice.close()
        }
    }

    @Test func aMessageOverTheLimitClosesWith1009() async throws {
        try await TestServer.run(configure: { $0.webSocketCloseGraceSeconds = 1 }) { server in
            // The server may close before all of it is sent (it judges the frame by its
            // header): a failed send is not the test's failure, the close code is.
            let client = try await Self.socket(server)
            try? await client.send(opcode: Self.text, Array(repeating: UInt8(ascii: "a"), count: 70 * 1024))
            var frame = try await client.readFrame()
            while let current = frame, current.opcode != Self.close { frame = try await client.readFrame() }
            #expect(Self.closeCode(frame) == 1009, "\(String(describing: frame))")

            // Small pieces add up the same way: more fragments than a message may have.
            let fragmented = try await Self.socket(server)
            try await fragmented.send(opcode: Self.text, Array("x".utf8), fin: false)
            for _ in 0..<70 {
                guard (try? await fragmented.send(opcode: Self.continuation, Array("x".utf8), fin: false)) != nil else { break }
            }
            var close = try await fragmented.readFrame()
            while let current = close, current.opcode != Self.close { close = try await fragmented.readFrame() }
            #expect(Self.closeCode(close) == 1009, "\(String(describing: close))")
        }
    }

    /// A client may pipeline many requests (subscribing to each of its chats at once): past
    /// 64 waiting, the server stops reading the socket until they are answered, rather than
    /// closing the connection (it used to, with 1008). Every request is answered, in order.
    @Test func manyPipelinedRequestsAreAllAnsweredInOrder() async throws {
        try await TestServer.run { server in
            var chats: [String] = []
            for index in 0..<3 { chats.append(try await server.createChat("alice", name: "c\(index)")) }
            let requests = (0..<300).map { #"{"op":"subscribe","channel":"chats/\#(chats[$0 % 3])"}"# } + [#"{"op":"ping"}"#]
            let client = try await StalledClient.connect(port: server.port, token: try await server.token("alice"), frames: requests)
            var answers: [String] = []
            while answers.count < requests.count, let frame = try await client.readFrame() {
                if frame.opcode == Self.text { answers.append(String(decoding: frame.payload, as: UTF8.self)) }
            }
            #expect(answers.count == requests.count, "\(answers.count) answers; the stream ended: \(client.ending)")
            let expected = (0..<300).map { #""channel":"chats/\#(chats[$0 % 3])""# }
            #expect(zip(answers, expected).allSatisfy { $0.contains(#""type":"subscribed""#) && $0.contains($1) }, "\(answers.prefix(3))")
            #expect(answers.last?.contains("pong") == true)
        }
    }

    /// A client may pipeline as many operations as it likes while it reads the answers: a
    /// burst of 20,000 pings in one write is all answered (counting 4,096 waiting as a flood,
    /// the server closed it after about 2,900, as reads kept coming after it paused).
    @Test func aBurstOfPipelinedPingsIsAllAnswered() async throws {
        try await TestServer.run { server in
            let client = try await Self.socket(server)
            let ping = Array(#"{"op":"ping"}"#.utf8)
            // Masked with the key 0, so the payload goes as it is.
            let frame: [UInt8] = [0x80 | Self.text, 0x80 | UInt8(ping.count), 0, 0, 0, 0] + ping
            let count = 20_000
            let writer = Task { try await client.send(bytes: Array([[UInt8]](repeating: frame, count: count).joined())) }
            var pongs = 0
            while pongs < count, let answer = try await client.readFrame(), answer.opcode == Self.text {
                if String(decoding: answer.payload, as: UTF8.self).contains("pong") { pongs += 1 }
            }
            try await writer.value
            #expect(pongs == count, "\(pongs) pongs; the stream ended: \(client.ending)")
        }
    }

    /// Frames a server must fail the connection on get 1002: reserved bits set with no
    /// extension agreed, a reserved opcode (RFC 6455 §5.2), and a close with a one-byte
    /// payload, a code no peer may send or a reason that is not UTF-8 (§5.5.1, §7.4). A close
    /// with a proper code is answered with that code.
    @Test func framesAgainstTheProtocolGetClose1002() async throws {
        try await TestServer.run(configure: { $0.webSocketCloseGraceSeconds = 1 }) { server in
            let reservedBit = try await Self.socket(server)
            try await reservedBit.send(opcode: 0x40 | Self.text, Array(#"{"op":"ping"}"#.utf8))
            #expect(try await reservedBit.readUntilClosed() == 1002)
            let reservedOpcode = try await Self.socket(server)
            try await reservedOpcode.send(opcode: 0x3, Array("x".utf8))
            #expect(try await reservedOpcode.readUntilClosed() == 1002)
            for payload: [UInt8] in [[0x03], [0x03, 0xE7], [0x03, 0xED], [0x03, 0xE8, 0xC3, 0x28]] {
                let closing = try await Self.socket(server)
                try await closing.send(opcode: Self.close, payload)
                #expect(try await closing.readUntilClosed() == 1002, "close payload \(payload)")
            }
            let proper = try await Self.socket(server)
            try await proper.send(opcode: Self.close, [0x0F, 0xA0] + Array("bye".utf8))  // 4000
            #expect(try await proper.readUntilClosed() == 4000)
        }
    }

    @Test func textThatIsNotUTF8GetsClose1007AndAnUnmaskedFrameClose1002() async throws {
        try await TestServer.run(configure: { $0.webSocketCloseGraceSeconds = 1 }) { server in
            let garbled = try await Self.socket(server)
            try await garbled.send(opcode: Self.text, Array(#"{"op":"ping","x":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8))
            #expect(try await garbled.readUntilClosed() == 1007)

            let unmasked = try await Self.socket(server)
            try await unmasked.send(opcode: Self.text, Array(#"{"op":"ping"}"#.utf8), masked: false)
            #expect(try await unmasked.readUntilClosed() == 1002)

            // A well-behaved socket is unaffected.
            let fine = try await Self.socket(server)
            try await fine.send(opcode: Self.text, Array(#"{"op":"ping","note":"ünïcödé ✓"}"#.utf8))
            let pong = try await fine.readFrame()
            #expect(String(decoding: pong?.payload ?? [], as: UTF8.self) == #"{"type":"pong"}"#)
        }
    }

    /// A request that cannot be parsed (bytes a request line may not hold, or no request line
    /// at all) is answered 400 and its connection closed, instead of being left open with no
    /// answer; the server goes on answering everyone else.
    @Test func unparsableRequestsAreAnsweredAndClosed() async throws {
        try await TestServer.run { server in
            for request in ["GET /healthz?q=café HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                            "GET /heal\u{1}thz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                            "HELLO\r\n\r\n"] {
                let answer = try await StalledClient.exchange(port: server.port, request: request)
                #expect(answer.head.hasPrefix("HTTP/1.1 400"), "\(request.debugDescription): \(answer.head)")
                #expect(answer.head.lowercased().contains("connection: close"), "\(answer.head)")
                // A problem like any other error, with the headers every answer carries.
                #expect(answer.head.lowercased().contains("content-type: application/problem+json"), "\(answer.head)")
                #expect(answer.head.lowercased().contains("x-content-type-options: nosniff"), "\(answer.head)")
                #expect(answer.head.lowercased().contains("\r\ndate: ") && answer.head.lowercased().contains("\r\nserver: chatflow"), "\(answer.head)")
                #expect(answer.body.contains(#""detail":"the request could not be parsed as HTTP/1.1"#), "\(answer.body)")
                // Closed at once, not when the connection idles out (60 s by default).
                let closedAfter = try await StalledClient.secondsUntilClosed(port: server.port, sending: request, answered: true)
                #expect(closedAfter < 10, "\(request.debugDescription): closed after \(closedAfter) s")
            }
            // On a kept-alive connection, after a good request: one 400, after the first answer.
            let pipelined = try await StalledClient.open(
                port: server.port, sending: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /heal\u{1}thz HTTP/1.1\r\n\r\n")
            let answers = try await pipelined.readUntilEnd()
            #expect(answers.hasPrefix("HTTP/1.1 200"), "\(answers)")
            #expect(answers.components(separatedBy: "HTTP/1.1 400").count == 2, "one 400 after the 200: \(answers)")
            let second = answers.components(separatedBy: "HTTP/1.1 400").last ?? ""
            #expect(second.lowercased().contains("content-type: application/problem+json") && second.contains("could not be parsed"), "\(second)")
            // A head larger than the server takes: 431, said so.
            let huge = try await StalledClient.exchange(
                port: server.port, request: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: \(String(repeating: "a", count: 200_000))\r\n\r\n")
            #expect(huge.head.hasPrefix("HTTP/1.1 431"), "\(huge.head)")
            #expect(huge.body.contains("larger than the server takes"), "\(huge.body)")
            // A head that parses with a body that does not: the route reading it answers 400.
            let badChunk = try await StalledClient.exchange(port: server.port, request: "POST /chats HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Authorization: Bearer \(try await server.token("alice"))\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
            #expect(badChunk.head.hasPrefix("HTTP/1.1 400"), "\(badChunk.head)")
            #expect(badChunk.body.contains("could not be parsed"), "\(badChunk.body)")
            #expect(try server.engine.reader.chats(of: UserID(unchecked: "alice")).isEmpty, "nothing was created")
            // A path that decodes to a NUL would name another file: refused.
            for path in ["/app.js%00.html", "/app.js%00%FF.html"] {
                let cutShort = try await StalledClient.exchange(port: server.port, request: "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                #expect(cutShort.head.hasPrefix("HTTP/1.1 400"), "\(path): \(cutShort.head)")
            }
            // An upgrade to something else (`curl --http2` asks for h2c) is answered over HTTP/1.1.
            let h2c = try await StalledClient.exchange(port: server.port, request: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")
            #expect(h2c.head.hasPrefix("HTTP/1.1 200"), "\(h2c.head)")
            // Only a GET opens a WebSocket: a POST asking for one is answered as a POST.
            let body = #"{"name":"upgraded?","isPrivate":false}"#
            let post = try await StalledClient.exchange(port: server.port, request: "POST /chats HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Authorization: Bearer \(try await server.token("alice"))\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            #expect(post.head.hasPrefix("HTTP/1.1 201"), "\(post.head)")
            let encoded = try await StalledClient.exchange(port: server.port, request: "GET /healthz?q=caf%C3%A9 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(encoded.head.hasPrefix("HTTP/1.1 200"), "\(encoded.head)")
        }
    }

    /// A connection ends after the answer when its request says so: HTTP/1.0 without
    /// keep-alive, or `Connection: close` in any case; the answer says `close`. An HTTP/1.0
    /// keep-alive request is told `keep-alive` and its connection serves the next request.
    @Test func connectionsEndWhenTheRequestSaysSo() async throws {
        try await TestServer.run { server in
            for request in ["GET /healthz HTTP/1.0\r\n\r\n",
                            "GET /healthz HTTP/1.0\r\nConnection: TE\r\n\r\n",
                            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Close, TE\r\n\r\n"] {
                let client = try await StalledClient.open(port: server.port, sending: request)
                // Reading to the end throws if the server sends nothing more for 30 s and keeps
                // the connection open: the idle time (60 s) would close it only later.
                let answer = try await client.readUntilEnd()
                #expect(answer.hasPrefix("HTTP/1.1 200"), "\(request.debugDescription): \(answer)")
                #expect(answer.lowercased().contains("connection: close"), "\(answer)")
            }
            let kept = try await StalledClient.open(port: server.port, sending:
                "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /readyz HTTP/1.0\r\n\r\n")
            let answers = try await kept.readUntilEnd().components(separatedBy: "HTTP/1.1 200").dropFirst()
            #expect(answers.count == 2, "\(answers)")
            #expect(answers.first?.lowercased().contains("connection: keep-alive") == true, "\(answers)")
            #expect(answers.last?.lowercased().contains("connection: close") == true, "\(answers)")
            // An upgrade on a kept-alive connection that also says close keeps its tokens:
            // it is sent to a new connection, not told it lacks `Connection: Upgrade`.
            let upgrade = try await StalledClient.open(port: server.port, sending: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                + "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            let redirected = try await upgrade.readUntilEnd()
            #expect(redirected.contains("HTTP/1.1 307"), "\(redirected)")
        }
    }

    /// Past the connection limit (which `serve` derives from the open-file limit), a new
    /// connection is answered 503 and closed, and the ones already open carry on; a place
    /// freed is taken again.
    @Test func connectionsPastTheLimitAreAnsweredAndClosed() async throws {
        try await TestServer.run(configure: { $0.maxConnections = 4 }) { server in
            let (admitted, refusal) = try await Self.holdUntilRefused(server)
            #expect(refusal?.hasPrefix("HTTP/1.1 503") == true && refusal?.contains("Retry-After: 5") == true, "\(refusal ?? "none refused")")
            #expect(refusal?.contains("Content-Type: application/problem+json") == true, "\(refusal ?? "none refused")")
            #expect((3...4).contains(admitted.count), "\(admitted.count) held")
            // The open ones carry on.
            try await admitted[0].send(Self.healthz)
            #expect(try await admitted[0].readAnswerHead().contains("HTTP/1.1 200"))
            admitted[1].drop()
            #expect(try await Self.servedAgain(server), "a freed place was not taken again")
        }
    }

    private static let healthz = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    /// Connections kept open one by one, each after its answer, until one is refused: those
    /// held, and the refusal's head.
    private static func holdUntilRefused(_ server: TestServer) async throws -> (admitted: [StalledClient], refusal: String?) {
        var admitted: [StalledClient] = []
        var refusal: String?
        for _ in 0..<8 where refusal == nil {
            let client = try await StalledClient.open(port: server.port, sending: healthz)
            let head = try await client.readAnswerHead()
            if head.hasPrefix("HTTP/1.1 200") { admitted.append(client) } else { refusal = head }
        }
        return (admitted, refusal)
    }

    /// Whether a new connection is served within 10 s: a place freed by a close is taken
    /// again once the server has seen the close.
    private static func servedAgain(_ server: TestServer) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let answer = try await StalledClient.exchange(port: server.port, request: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            if answer.head.hasPrefix("HTTP/1.1 200") { return true }
        }
        return false
    }

    /// One address holds at most `httpConnectionsPerAddress` HTTP connections, idle ones
    /// included: past it a connection is answered 429 and closed, and a freed place is
    /// taken again. A WebSocket holds none once upgraded.
    @Test func oneAddressHoldsABoundedNumberOfHTTPConnections() async throws {
        try await TestServer.run(configure: { $0.httpConnectionsPerAddress = 4 }) { server in
            let sockets = [try await LiveClient.connect(server, as: "alice"), try await LiveClient.connect(server, as: "bob")]
            // Answered over the socket: the server has finished upgrading it.
            for socket in sockets { #expect(try await socket.roundTrip()) }
            let (admitted, refusal) = try await Self.holdUntilRefused(server)
            #expect(refusal?.hasPrefix("HTTP/1.1 429") == true && refusal?.contains("Retry-After: 5") == true, "\(refusal ?? "none refused")")
            #expect(refusal?.contains("X-Content-Type-Options: nosniff\r\n") == true, "\(refusal ?? "none refused")")
            #expect(refusal?.contains("Content-Type: application/problem+json") == true, "\(refusal ?? "none refused")")
            // The test's own client may hold a place; the two WebSockets hold none.
            #expect((3...4).contains(admitted.count), "\(admitted.count) held")
            admitted[0].drop()
            #expect(try await Self.servedAgain(server), "a freed place was not taken again")
            for socket in sockets { await socket.close() }
        }
    }

    /// An IPv6 client counts by its /64, which one host is usually given whole; an IPv4
    /// address, also when a dual-stack socket shows it as ::ffff:a.b.c.d, by itself.
    @Test func addressesCountByClient() throws {
        func client(_ ip: String) throws -> String { AddressConnectionLimit.client(of: try SocketAddress(ipAddress: ip, port: 443)) }
        #expect(try client("2001:db8:1:2::1") == client("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        #expect(try client("2001:db8:1:2::1") == "2001:db8:1:2::/64")
        #expect(try client("2001:db8:1:3::1") != client("2001:db8:1:2::1"))
        #expect(try client("::1") == "0:0:0:0::/64")
        #expect(try client("::ffff:192.0.2.1") == "192.0.2.1")
        #expect(try client("::ffff:192.0.2.1") != client("::ffff:192.0.2.2"))
        #expect(try client("192.0.2.1") == "192.0.2.1")
        #expect(AddressConnectionLimit.client(of: nil) == "")
    }

    /// An HTTP connection that asks for nothing is closed after the idle time: one that never
    /// sends a request, one that stops half way through its head or its body, and a
    /// keep-alive connection after its last answer. A WebSocket is not: its pings keep it.
    @Test func idleConnectionsAreClosed() async throws {
        try await TestServer.run(configure: { $0.httpIdleSeconds = 1 }) { server in
            // Every request on a new connection: the test client's own keep-alive connection
            // idles out too, as soon as a second after it opened.
            let token = try await server.token("alice")
            func post(_ path: String, _ body: String) async throws -> (head: String, body: String) {
                try await StalledClient.exchange(port: server.port, request: "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Authorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            }
            let created = try await post("/chats", #"{"name":"general","isPrivate":false}"#)
            let chat = try #require((try JSONSerialization.jsonObject(with: Data(created.body.utf8)) as? [String: Any])?["id"] as? String, "\(created)")
            let socket = try await StalledClient.connect(server, as: "alice", subscribingTo: chat)

            let silent = try await StalledClient.secondsUntilClosed(port: server.port)
            #expect(silent >= 0.5, "closed after \(silent) s, before the idle time")
            let halfHead = try await StalledClient.secondsUntilClosed(port: server.port, sending: "GET /healthz HTTP/1.1\r\nHost: 127.")
            #expect(halfHead >= 0.5, "closed after \(halfHead) s, before the idle time")
            let keptAlive = try await StalledClient.secondsUntilClosed(
                port: server.port, sending: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", answered: true)
            #expect(keptAlive >= 0.5, "closed after \(keptAlive) s, before the idle time")
            // A body that stops part way: nothing more for the idle time, and it is closed.
            let halfBody = try await StalledClient.secondsUntilClosed(port: server.port, sending: "POST /chats HTTP/1.1\r\n"
                + "Host: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":")
            #expect(halfBody >= 0.5, "closed after \(halfBody) s, before the idle time")
            // A body sent a byte at a time, never idle for long, is closed when it has not all
            // come within the idle time of its head.
            let trickle = try await StalledClient.open(port: server.port, sending: "POST /chats HTTP/1.1\r\n"
                + "Host: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            let trickled = ContinuousClock.now
            var open = true
            // Paced well inside the idle time, for up to six of them.
            while open, ContinuousClock.now - trickled < .seconds(6) {
                try await Task.sleep(for: .milliseconds(200))
                do { try await trickle.send(" ") } catch { open = false }
            }
            let closedAfter = (ContinuousClock.now - trickled) / .seconds(1)
            #expect(!open && closedAfter < 4, "a trickled body was still open after \(closedAfter) s")

            // Three idle times later, the WebSocket still delivers.
            let posted = try await post("/chats/\(chat)/messages", #"{"content":"after the idle time","messageType":"text"}"#)
            #expect(posted.head.hasPrefix("HTTP/1.1 201"), "\(posted.head)")
            try await socket.waitForText(containing: "after the idle time")
        }
    }

    /// Requests NIO will not upgrade reach the router, which says what is wrong; none of them
    /// is redirected (a redirect would only bring the client back with the same request).
    @Test func malformedUpgradeRequestsAreToldWhatIsWrong() async throws {
        try await TestServer.run { server in
            let token = try await server.token("alice")
            func upgrade(_ headers: String) async throws -> (head: String, body: String) {
                try await StalledClient.exchange(port: server.port, request: "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Authorization: Bearer \(token)\r\nUpgrade: websocket\r\n\(headers)\r\n")
            }
            let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            let oldVersion = try await upgrade("Connection: Upgrade\r\n\(key)Sec-WebSocket-Version: 8\r\n")
            #expect(oldVersion.head.hasPrefix("HTTP/1.1 426"), "\(oldVersion.head)")
            #expect(oldVersion.head.lowercased().contains("sec-websocket-version: 13"), "\(oldVersion.head)")
            #expect(oldVersion.body.contains("version 8 is not supported"), "\(oldVersion.body)")

            // RFC 6455 §4.1: HTTP/1.1 or later (NIO's upgrader took a 1.0 request).
            let old = try await StalledClient.exchange(port: server.port, request: "GET /ws HTTP/1.0\r\n"
                + "Authorization: Bearer \(token)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\(key)Sec-WebSocket-Version: 13\r\n\r\n")
            #expect(old.head.hasPrefix("HTTP/1.1 400") && old.body.contains("RFC 6455"), "\(old.head) \(old.body)")

            let noKey = try await upgrade("Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n")
            #expect(noKey.head.hasPrefix("HTTP/1.1 400"), "\(noKey.head)")
            #expect(noKey.body.contains("Sec-WebSocket-Key"), "\(noKey.body)")

            let twoKeys = try await upgrade("Connection: Upgrade\r\n\(key)\(key)Sec-WebSocket-Version: 13\r\n")
            #expect(twoKeys.head.hasPrefix("HTTP/1.1 400"), "\(twoKeys.head)")
            #expect(twoKeys.body.contains("exactly one Sec-WebSocket-Key"), "\(twoKeys.body)")

            let shortKey = try await upgrade("Connection: Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n")
            #expect(shortKey.head.hasPrefix("HTTP/1.1 400"), "\(shortKey.head)")
            #expect(shortKey.body.contains("16 random bytes in base64"), "\(shortKey.body)")

            let noToken = try await StalledClient.exchange(port: server.port, request: "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Upgrade: websocket\r\nConnection: Upgrade\r\n\(key)Sec-WebSocket-Version: 13\r\n\r\n")
            #expect(noToken.head.hasPrefix("HTTP/1.1 401"), "\(noToken.head)")
            #expect(noToken.body.contains("a WebSocket needs a token"), "\(noToken.body)")
            // Refused upgrades carry the headers every answer does.
            for refused in [noToken, noKey, old] {
                #expect(refused.head.contains("X-Content-Type-Options: nosniff") && refused.head.contains("Referrer-Policy: no-referrer"), "\(refused.head)")
            }

            // Refusals never reach the router; they are counted on their own.
            let metrics = try await server.call(.get, "/metrics", as: nil)
            #expect(metrics.text.contains(#"chatflow_websocket_upgrades_refused_total{status="426"} 1"#), "\(metrics.text)")
            #expect(metrics.text.contains(#"chatflow_websocket_upgrades_refused_total{status="400"} 4"#), "\(metrics.text)")
            #expect(metrics.text.contains(#"chatflow_websocket_upgrades_refused_total{status="401"} 1"#), "\(metrics.text)")

            let noConnection = try await upgrade("\(key)Sec-WebSocket-Version: 13\r\n")
            #expect(noConnection.head.hasPrefix("HTTP/1.1 400"), "\(noConnection.head)")
            #expect(noConnection.body.contains("Connection: Upgrade"), "\(noConnection.body)")

            // A body, which NIO read and dropped before switching protocols: refused instead.
            for body in ["Content-Length: 5\r\n\r\nhello", "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"] {
                let withBody = try await StalledClient.exchange(port: server.port, request: "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Authorization: Bearer \(token)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\(key)Sec-WebSocket-Version: 13\r\n\(body)")
                #expect(withBody.head.hasPrefix("HTTP/1.1 400"), "\(body.debugDescription): \(withBody.head)")
                #expect(withBody.body.contains("without a body"), "\(withBody.body)")
            }

            let noVersion = try await upgrade("Connection: Upgrade\r\n\(key)")
            #expect(noVersion.head.hasPrefix("HTTP/1.1 426"), "\(noVersion.head)")
            #expect(noVersion.body.contains("a WebSocket upgrade without Sec-WebSocket-Version is not supported"), "\(noVersion.body)")

            // The same request well formed is upgraded.
            let good = try await upgrade("Connection: keep-alive, Upgrade\r\n\(key)Sec-WebSocket-Version: 13\r\n")
            #expect(good.head.hasPrefix("HTTP/1.1 101"), "\(good.head)")
        }
    }

    /// Subscribes count against the user's read limit: a loop of them from a few sockets
    /// once held the server's cores. Past it one is answered `rate_limited` (with its
    /// channel, and when to retry), and the socket's next frame waits that long: the one
    /// after is then taken. Unsubscribes and pings go through, in their turn.
    @Test func subscribesCountAgainstTheReadLimit() async throws {
        try await TestServer.run(configure: {
            $0.readRateLimit = 0.5
            $0.readRateBurst = 4
        }) { server in
            let chat = try await server.createChat("alice")
            // The upgrade is a read too: three tokens are left.
            let alice = try await LiveClient.connect(server, as: "alice")
            for _ in 0..<5 { try await alice.send(#"{"op":"subscribe","channel":"chats/\#(chat)"}"#) }
            #expect(try await alice.roundTrip())
            let answers = alice.frames.filter { $0["type"] as? String == "subscribed" || $0["type"] as? String == "error" }
            #expect(answers.map { $0["type"] as? String } == ["subscribed", "subscribed", "subscribed", "error", "subscribed"], "\(answers)")
            let refused = answers[3]
            #expect(refused["code"] as? String == "rate_limited" && refused["channel"] as? String == "chats/\(chat)", "\(refused)")
            #expect((refused["detail"] as? String)?.contains("retry in") == true, "\(refused)")
            try await alice.send(#"{"op":"unsubscribe","channel":"chats/\#(chat)"}"#)
            #expect(await alice.wait { $0.contains { $0["type"] as? String == "unsubscribed" } })
            await alice.close()
        }
    }

    @Test func aUserMayOpenOnlySoManySockets() async throws {
        try await TestServer.run(configure: { $0.webSocketsPerUser = 2; $0.webSocketCloseGraceSeconds = 1 }) { server in
            // Both are registered once they answer a ping.
            let first = try await Self.socket(server)
            let second = try await Self.socket(server)
            for socket in [first, second] {
                try await socket.send(opcode: Self.ping, [1])
                #expect(try await socket.readFrame()?.opcode == Self.pong)
            }
            let token = try await server.token("alice")
            let upgrade = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            let third = try await StalledClient.exchange(port: server.port, request: upgrade)
            #expect(third.head.hasPrefix("HTTP/1.1 429"), "\(third.head)")
            #expect(third.body.contains("too many WebSockets open for this user (2)"), "\(third.body)")
            // Another user is not affected.
            _ = try await Self.socket(server, as: "bob")
            // An upgrade racing others past that first check (a token not yet cached is
            // checked off the event loop, so all of them can pass it) is refused on arrival,
            // and is not counted while its close handshake runs out (the raced socket here
            // never answers, so it would run out only after the grace).
            let raced = server.hub.connect(user: UserID(unchecked: "alice"), channel: EmbeddedChannel())
            #expect(raced.isClosed, "a socket over the limit is closed")

            // Once one closes, there is room again (the server lets go of it asynchronously).
            try await first.send(opcode: Self.close, [0x03, 0xE8])
            _ = try await first.readUntilClosed()
            let deadline = ContinuousClock.now + .seconds(10)
            var reopened = try await StalledClient.exchange(port: server.port, request: upgrade)
            while !reopened.head.hasPrefix("HTTP/1.1 101") && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                reopened = try await StalledClient.exchange(port: server.port, request: upgrade)
            }
            #expect(reopened.head.hasPrefix("HTTP/1.1 101"), "\(reopened.head)")
        }
    }

    /// A socket the server is closing no longer keeps its user out: its client may never
    /// answer the close, and the user's reconnect must not wait out the handshake (429). It
    /// still holds its buffers until then, so closing sockets count too, up to as many again.
    @Test func aSocketTheServerClosesNoLongerKeepsItsUserOut() async throws {
        try await TestServer.run(configure: { $0.webSocketsPerUser = 2; $0.webSocketCloseGraceSeconds = 60 }) { server in
            let token = try await server.token("alice")
            let upgrade = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            func opened() async throws -> StalledClient {
                let socket = try await Self.socket(server)
                try await socket.send(opcode: Self.ping, [1])
                #expect(try await socket.readFrame()?.opcode == Self.pong)
                return socket
            }
            // Text that is not UTF-8: the server sends its close, which this client leaves unanswered.
            func closedByTheServer(_ socket: StalledClient) async throws {
                try await socket.send(opcode: Self.text, [0xC3, 0x28])
                #expect(Self.closeCode(try await socket.readFrame()) == 1007)
            }
            let first = try await opened()
            let second = try await opened()
            try await closedByTheServer(second)
            let third = try await opened()
            // The limit still holds: the first and the third are open.
            let over = try await StalledClient.exchange(port: server.port, request: upgrade)
            #expect(over.head.hasPrefix("HTTP/1.1 429"), "\(over.head)")
            try await closedByTheServer(third)
            let fourth = try await opened()
            try await closedByTheServer(fourth)
            // Two open or closing, and two more closing: no more, however they were closed.
            let capped = try await StalledClient.exchange(port: server.port, request: upgrade)
            #expect(capped.head.hasPrefix("HTTP/1.1 429"), "\(capped.head)")
            // Once the closing ones end, only the first is left.
            for socket in [second, third, fourth] {
                try await socket.send(opcode: Self.close, [0x03, 0xE8])
                _ = try await socket.readUntilClosed()
            }
            #expect(try await eventually(timeout: .seconds(10)) {
                try await server.call(.get, "/metrics", as: nil).text.contains("chatflow_websocket_connections 1")
            })
            let reopened = try await StalledClient.exchange(port: server.port, request: upgrade)
            #expect(reopened.head.hasPrefix("HTTP/1.1 101"), "\(reopened.head)")
            _ = first
        }
    }

    /// `/metrics` counts live subscriptions by kind of channel, and each ends with its
    /// unsubscribe or its socket.
    @Test func subscriptionsAreCountedInTheMetrics() async throws {
        try await TestServer.run(configure: { $0.webSocketCloseGraceSeconds = 1 }) { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            func counted(_ chats: Int, _ notifications: Int) async throws -> Bool {
                let text = try await server.call(.get, "/metrics", as: nil).text
                return text.contains(#"chatflow_websocket_subscriptions{channel="chat"} \#(chats)"#)
                    && text.contains(#"chatflow_websocket_subscriptions{channel="notifications"} \#(notifications)"#)
            }
            #expect(try await counted(0, 0))
            let alice = try await LiveClient.connect(server, as: "alice")
            let bob = try await LiveClient.connect(server, as: "bob")
            try await alice.subscribe("chats/\(chat)")
            try await alice.subscribe("users/me/notifications")
            try await bob.subscribe("chats/\(chat)")
            // Subscribing again to the same channel replaces the subscription.
            try await bob.subscribe("chats/\(chat)")
            #expect(try await counted(2, 1))

            try await alice.send(#"{"op":"unsubscribe","channel":"chats/\#(chat)"}"#)
            #expect(try await alice.roundTrip())
            #expect(try await counted(1, 1))
            await bob.close()
            await alice.close()
            #expect(try await eventually(timeout: .seconds(10)) { try await counted(0, 0) })
        }
    }

    /// An upgrade is a read: a client opening and closing sockets in a loop meets the read
    /// limit like one reading over HTTP, with `Retry-After`.
    @Test func upgradesCountAgainstTheReadLimit() async throws {
        try await TestServer.run(configure: { $0.readRateLimit = 0.01; $0.readRateBurst = 2 }) { server in
            let token = try await server.token("alice")
            let upgrade = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            for _ in 0..<2 {
                let opened = try await StalledClient.exchange(port: server.port, request: upgrade)
                #expect(opened.head.hasPrefix("HTTP/1.1 101"), "\(opened.head)")
            }
            let third = try await StalledClient.exchange(port: server.port, request: upgrade)
            #expect(third.head.hasPrefix("HTTP/1.1 429"), "\(third.head)")
            #expect(third.head.lowercased().contains("retry-after:"), "\(third.head)")
            #expect(third.body.contains("too many reads"), "\(third.body)")
            // The same bucket as reads over HTTP: alice has none left there either; bob has his.
            #expect(try await server.call(.get, "/chats", as: "alice").status == 429)
            _ = try await Self.socket(server, as: "bob")
        }
    }

    @Test func webSocketSettingsOutOfRangeAreRefusedAtStart() throws {
        var configuration = ServerConfiguration(jwtSecret: String(repeating: "s", count: 32))
        configuration.webSocketPingSeconds = 0
        #expect(throws: ConfigurationError.self) { try configuration.validate() }
        configuration.webSocketPingSeconds = 30
        configuration.webSocketsPerUser = -1
        let error = #expect(throws: ConfigurationError.self) { try configuration.validate() }
        #expect(error?.description.contains("CHATFLOW_WS_PER_USER") == true)
        configuration.webSocketsPerUser = 0
        try configuration.validate()
        configuration.webSocketReplayLimit = 0
        let replay = #expect(throws: ConfigurationError.self) { try configuration.validate() }
        #expect(replay?.description.contains("CHATFLOW_WS_REPLAY_LIMIT") == true)
        configuration.webSocketReplayLimit = 1
        try configuration.validate()
    }

    @Test func upgradesWithoutAValidTokenAreRefusedAndAPlainGetIsTold() async throws {
        try await TestServer.run(configure: { $0.webSocketCloseGraceSeconds = 1 }) { server in
            for token in ["", "not-a-token"] {
                await #expect(throws: StalledClient.Failure.self, "token '\(token)'") {
                    _ = try await StalledClient.connect(port: server.port, token: token, frames: [])
                }
            }
            let plain = try await server.call(.get, "/ws", as: "alice")
            #expect(plain.status == 426, "\(plain.status) \(plain.text)")
        }
    }
}
