import Benchmark
import ChatFlowCore
import ChatFlowServer
import ChatFlowStorage
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOWebSocket

/// Live delivery: the JSON frame of one event, and one event queued to 1,000 subscribers.
func liveBenchmarks() {
    let chat = ChatID(ULID(timestamp: 1_767_225_600_000, randomHigh: 1, randomLow: 2))
    let posted = LoggedEvent(
        id: ULID(timestamp: 1_767_225_600_001, randomHigh: 3, randomLow: 4),
        actor: UserID(unchecked: "alice"),
        event: .messagePosted(.init(
            chat: chat,
            content: "the deploy of v2.14.3 is done, latency p99 back under 5 ms — thanks everyone 🎉",
            type: .text)))
    let reaction = LoggedEvent(
        id: ULID(timestamp: 1_767_225_600_002, randomHigh: 5, randomLow: 6),
        actor: UserID(unchecked: "bob"),
        event: .reactionAdded(.init(chat: chat, message: MessageID(posted.id), emoji: "👍")))

    // What the hub does once per event and channel; every subscriber shares the string.
    for (label, event) in [("message.created", posted), ("reaction.added", reaction)] {
        Benchmark("LiveFrame.event \(label)") { benchmark in
            for _ in benchmark.scaledIterations {
                guard let (chat, live) = LiveEvent.from(event) else {
                    throw FanOutFixture.Unexpected(description: "\(label) is not delivered live")
                }
                blackHole(LiveFrame.event(channel: "chats/\(chat)", id: event.id.description, event: live))
            }
        }
    }

    let fanOut = FanOutFixture(subscribers: 1000)
    Benchmark(
        "LiveHub.deliver 1 message to 1000 subscribers",
        configuration: .init(
            metrics: [.wallClock, .throughput, .mallocCountTotal],
            maxDuration: .seconds(5),
            maxIterations: 10_000)
    ) { benchmark in
        let (hub, event) = try fanOut.nextMessage()
        benchmark.startMeasurement()
        hub.deliver([event])
        benchmark.stopMeasurement()
        // Outside the measurement: each connection's event loop writes the frame it was
        // handed, so nothing piles up (a client that falls behind is closed as too slow).
        try await fanOut.drain()
    } setup: {
        try await fanOut.setUp()
    } teardown: {
        fanOut.tearDown()
    }
}

/// A chat with 1,000 members, each subscribed to it over a connection of its own, in a
/// real data directory (the hub checks membership when a connection subscribes).
final class FanOutFixture {
    struct Unexpected: Error, CustomStringConvertible {
        let description: String
    }

    private struct Chat {
        let hub: LiveHub
        let id: ChatID
        let author: UserID
    }

    let subscribers: Int
    private var directory: String?
    private var engine: ChatFlowEngine?
    private var chat: Chat?
    private var channels: [EmbeddedChannel] = []
    private var sequence: UInt64 = 0

    init(subscribers: Int) {
        self.subscribers = subscribers
    }

    func setUp() async throws {
        let directory = WorkloadWriter.temporaryDirectory("live")
        let engine = try ChatFlowEngine(dataDirectory: directory)
        self.directory = directory
        self.engine = engine
        let members = (0..<subscribers).map { UserID(unchecked: "member-\($0)") }
        let chat = ChatID(try await engine.log.append(EventCodec.encode(EventEnvelope(
            actor: members[0], event: .chatCreated(.init(name: "fan-out", description: "", isPrivate: false))))).ids[0])
        _ = try await engine.log.append(members.dropFirst().map { member in
            EventCodec.encode(EventEnvelope(actor: members[0], event: .memberJoined(.init(chat: chat, user: member, role: .member))))
        }, idempotencyKey: nil)
        try engine.projector.catchUp()

        let hub = LiveHub(
            commands: ChatFlowCommands(engine: engine), projector: engine.projector, metrics: ServerMetrics(),
            queueLimit: 64, closeGrace: .seconds(5), logger: Logger(label: "chatflow.benchmark"))
        self.chat = Chat(hub: hub, id: chat, author: members[1])
        // One loop for every connection, as a server has a few loops for thousands.
        let loop = EmbeddedEventLoop()
        for member in members {
            let channel = EmbeddedChannel(loop: loop)
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
            let connection = hub.connect(user: member, channel: channel)
            await hub.handle(#"{"op":"subscribe","channel":"chats/\#(chat)"}"#, from: connection)
            channels.append(channel)
        }
        // Each queue now holds the answer to its subscribe.
        for frame in try await drain() where !frame.contains(#""type":"subscribed""#) {
            throw Unexpected(description: "subscribing failed: \(frame)")
        }
    }

    /// The hub, and a new message in the chat with a fresh id.
    func nextMessage() throws -> (LiveHub, LoggedEvent) {
        guard let chat else { throw Unexpected(description: "the fixture is not set up") }
        sequence += 1
        return (chat.hub, LoggedEvent(
            id: ULID(timestamp: 1_767_225_600_000 + sequence, randomHigh: 0, randomLow: 0),
            actor: chat.author,
            event: .messagePosted(.init(
                chat: chat.id, content: "fan-out message \(sequence): the build is green again, merging now",
                type: .text))))
    }

    /// Takes one frame off every connection's socket; throws if one has none (the hub
    /// closed that connection).
    @discardableResult
    func drain() async throws -> [String] {
        var frames: [String] = []
        frames.reserveCapacity(channels.count)
        for (index, channel) in channels.enumerated() {
            channel.embeddedEventLoop.run()
            guard let frame = try channel.readOutbound(as: WebSocketFrame.self) else {
                throw Unexpected(description: "connection \(index) wrote nothing")
            }
            frames.append(String(buffer: frame.data))
        }
        return frames
    }

    func tearDown() {
        chat = nil
        channels = []
        engine?.close()
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
        engine = nil
        directory = nil
    }
}
