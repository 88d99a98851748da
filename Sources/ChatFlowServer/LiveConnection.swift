import ChatFlowCore
import ChatFlowStorage
import Dispatch
import NIOCore
import NIOWebSocket
import Synchronization

/// One WebSocket client: its user, its outbound frames and its subscriptions.
///
/// Frames are handed to the socket's event loop, never written inline by the hub, so one
/// slow client cannot hold up delivery to the others. Once `queueLimit` frames or
/// `queueBytes` bytes are waiting for a socket that has stopped taking data, the client is
/// closed (code 4008) and reconnects with `since`: counted in frames alone, a client that
/// stopped reading held a thousand of the largest messages, 60 MB, until it was closed. So
/// is one holding its `OutboundBudget` share once all connections together hold the whole
/// budget. The frames the hub hands over together (one batch of events) go out with one flush.
package final class LiveConnection: Sendable {
    enum Subscription: Sendable {
        /// Replaying history: live frames wait here until the replay is done. `leaving`: the
        /// user left the chat (their `member.left` is the last frame held); nothing more is
        /// held, and the subscription ends once the replay or the hand-over has sent it.
        /// `pending` nil: more came meanwhile than a queue holds, so none is held and the
        /// replay reads them from the log instead before going live. `bytes`: the held
        /// frames' size.
        case replaying(pending: [(ULID?, ByteBuffer)]?, bytes: Int, leaving: Bool)
        /// Live: frames for ids up to `lastSent` were already sent by the replay.
        case live(lastSent: ULID?)
    }

    /// What the event loop knows of the connection (touched only on it).
    private struct LoopState {
        /// Our close frame is out: nothing may follow it.
        var closeSent = false
        /// A replay waiting for the socket to take what it was sent (`waitForRoom`), and
        /// below how many queued bytes it may go on.
        var roomWaiter: (promise: EventLoopPromise<Bool>, below: Int)?
    }

    /// Client messages waiting for the hub, handled one at a time in order.
    private struct Inbound {
        var queue = CircularBuffer<String>()
        var bytes = 0
        var running = false
        /// The socket handler stopped reading from the socket until the queue drains.
        var readingPaused = false
    }

    /// What became of a client message handed to `receive`.
    enum Reception {
        /// Queued; with `pauseReading`, the socket handler should read no more for now.
        case queued(pauseReading: Bool)
        /// Refused: over the hard limits, which only a client that ignores backpressure
        /// reaches (the frames of one read from the socket still arrive after a pause).
        case refused
    }

    /// Sent down the pipeline once the queue has drained: the socket handler reads again.
    struct ResumeReading {}

    let id: Int
    let user: UserID
    private let channel: any Channel
    private let queueLimit: Int
    private let queueBytes: Int
    private let budget: OutboundBudget
    private let closeGrace: TimeAmount
    private let queued = Atomic<Int>(0)
    private let queuedBytes = Atomic<Int>(0)
    private let loop: NIOLoopBoundBox<LoopState>
    private let inbound = Mutex(Inbound())
    /// The task handling client messages, while there is one.
    private let inboundTask = Mutex<Task<Void, Never>?>(nil)
    private let subscriptions = Mutex<[LiveChannel: Subscription]>([:])
    private let closed = Atomic<Bool>(false)
    /// When this connection's last typing indicator was passed on, per chat (uptime ns).
    private let typingPassedOn = Mutex<[ChatID: UInt64]>([:])

    /// Client messages waiting before the socket handler stops reading from the socket (and
    /// so the client's writes wait in TCP until these are answered): a client may pipeline
    /// as many operations as it likes, such as subscribing to each of its chats at once.
    static let inboundLimit = 64
    /// The most a socket read takes (one read per turn, `LiveServerChannel`). The frames of a
    /// read all arrive, also after reading pauses.
    static let readBytes = 65_536
    /// Messages, and their bytes, waiting before the connection is closed for flooding: past
    /// what a client that stops when asked can send, one read of the smallest frames (6 bytes:
    /// a header and a mask, no text) after the pause. At 4,096, a client that pipelined
    /// 20,000 pings in one burst, reading every answer, was closed.
    static let inboundHardLimit = inboundLimit + readBytes / 6
    static let inboundByteLimit = 256 * 1024

    /// Told once the connection is closing, before its close handshake has run out.
    private let onClosing: @Sendable (LiveConnection) -> Void

    init(
        id: Int, user: UserID, channel: any Channel, queueLimit: Int, queueBytes: Int, budget: OutboundBudget, closeGrace: TimeAmount,
        onClosing: @escaping @Sendable (LiveConnection) -> Void = { _ in }
    ) {
        self.budget = budget
        self.id = id
        self.user = user
        self.channel = channel
        self.queueLimit = queueLimit
        self.queueBytes = queueBytes
        self.closeGrace = closeGrace
        self.onClosing = onClosing
        loop = NIOLoopBoundBox.makeBoxSendingValue(LoopState(), eventLoop: channel.eventLoop)
    }

    package var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Typing indicators passed on per chat at most once per `interval`: a client sends one
    /// every few seconds while its user types, and each goes to every subscriber of the chat,
    /// so one sent in a loop would flood them all. True when this one may go.
    func mayPassOnTyping(in chat: ChatID, now: UInt64 = DispatchTime.now().uptimeNanoseconds, interval: UInt64 = 1_000_000_000) -> Bool {
        typingPassedOn.withLock { passedOn in
            if let last = passedOn[chat], now - last < interval { return false }
            passedOn[chat] = now
            return true
        }
    }

    // MARK: - Outbound

    /// A frame's text, ready to be written to any number of sockets: one event goes to every
    /// subscriber of its chat, and a copy per socket cost a thousand subscribers a thousand
    /// allocations and copies (and kept as many in memory for those that stopped reading).
    static func frame(_ text: String) -> ByteBuffer {
        ByteBuffer(string: text)
    }

    /// Queues text frames, written in order with one flush; false when the client has
    /// stopped keeping up (the caller closes the connection). Answers, replays and their
    /// hand-over to live delivery come this way: they are bounded on their own (a replay
    /// waits for its window to drain), so the budget does not cut them.
    func send(_ frames: [ByteBuffer]) -> Bool {
        guard reserve(frames, budgeted: false) else { return false }
        channel.eventLoop.execute { [self] in write(frames) }
        return true
    }

    /// The loop the connection's frames are written on; `LiveHub` hands a batch's frames to
    /// each loop once, for all of its connections.
    var eventLoop: any EventLoop { channel.eventLoop }

    /// Counts `frames` as waiting for the socket; false when the client has stopped keeping
    /// up: `queueLimit` frames or `queueBytes` bytes already wait, or (`budgeted`: live
    /// delivery) the budget's share while all connections together hold the whole budget,
    /// and the socket is not writable (more than NIO's high-water mark is buffered in front
    /// of it). A client that
    /// reads, even one briefly behind on a busy machine, takes a batch of any size. A closed
    /// connection takes anything, and drops it.
    func reserve(_ frames: [ByteBuffer], budgeted: Bool = true) -> Bool {
        guard !frames.isEmpty else { return true }
        // Counted also when closed: `write` uncounts every frame it is handed.
        let bytes = frames.reduce(0) { $0 + $1.readableBytes }
        let count = queued.wrappingAdd(frames.count, ordering: .relaxed).oldValue
        let size = queuedBytes.wrappingAdd(bytes, ordering: .relaxed).oldValue
        let total = budget.add(bytes)
        if !isClosed && (count >= queueLimit || size >= queueBytes || (budgeted && total > budget.limit && size + bytes > budget.share)) && !channel.isWritable {
            queued.wrappingSubtract(frames.count, ordering: .relaxed)
            queuedBytes.wrappingSubtract(bytes, ordering: .relaxed)
            budget.remove(bytes)
            return false
        }
        return true
    }

    /// Bytes of frames waiting for the socket.
    var waitingBytes: Int { queuedBytes.load(ordering: .relaxed) }

    /// Whether fewer than `bytes` bytes of frames wait for the socket.
    func hasRoom(below bytes: Int) -> Bool { waitingBytes < bytes }

    /// Waits (blocking the calling thread, never an event loop's) until fewer than `bytes`
    /// bytes of frames wait for the socket, so that a replay, which could write as fast as
    /// it reads the log, goes at the client's pace and keeps little in memory. False when
    /// they have not dropped below `bytes` within `timeout`.
    func waitForRoom(below bytes: Int, timeout: TimeAmount) -> Bool {
        if hasRoom(below: bytes) { return true }
        return (try? room(below: bytes, timeout: timeout).wait()) ?? false
    }

    /// True once fewer than `bytes` bytes of frames wait for the socket (or it closed); false
    /// when they have not dropped below `bytes` within `timeout`.
    func room(below bytes: Int, timeout: TimeAmount) -> EventLoopFuture<Bool> {
        if hasRoom(below: bytes) { return channel.eventLoop.makeSucceededFuture(true) }
        let promise = channel.eventLoop.makePromise(of: Bool.self)
        channel.eventLoop.execute { [self] in
            guard !hasRoom(below: bytes), !loop.value.closeSent, channel.isActive else {
                promise.succeed(true)
                return
            }
            loop.value.roomWaiter?.promise.succeed(true)
            loop.value.roomWaiter = (promise, bytes)
            channel.eventLoop.scheduleTask(in: timeout) { [self] in
                guard loop.value.roomWaiter?.promise.futureResult === promise.futureResult else { return }
                loop.value.roomWaiter = nil
                promise.succeed(false)
            }
        }
        return promise.futureResult
    }

    /// One frame of `bytes` left the queue (written, or dropped with the connection); on the
    /// event loop.
    private func dequeued(_ bytes: Int) {
        queued.wrappingSubtract(1, ordering: .relaxed)
        let size = queuedBytes.wrappingSubtract(bytes, ordering: .relaxed).newValue
        budget.remove(bytes)
        if let waiter = loop.value.roomWaiter, size < waiter.below || !channel.isActive {
            loop.value.roomWaiter = nil
            waiter.promise.succeed(true)
        }
    }

    /// Writes frames counted by `reserve`, with one flush; on the event loop.
    func write(_ frames: [ByteBuffer]) {
        channel.eventLoop.assertInEventLoop()
        guard !frames.isEmpty else { return }
        guard !loop.value.closeSent, channel.isActive else {
            for frame in frames { dequeued(frame.readableBytes) }
            return
        }
        for frame in frames {
            let promise = channel.eventLoop.makePromise(of: Void.self)
            let bytes = frame.readableBytes
            promise.futureResult.whenComplete { _ in self.dequeued(bytes) }
            channel.write(WebSocketFrame(fin: true, opcode: .text, data: frame), promise: promise)
        }
        channel.flush()
    }

    func send(_ frame: String) -> Bool {
        send([Self.frame(frame)])
    }

    /// Writes a ping or pong now (on the event loop), ahead of nothing it must follow.
    func sendControl(_ frame: WebSocketFrame) {
        channel.eventLoop.assertInEventLoop()
        guard !loop.value.closeSent else { return }
        channel.writeAndFlush(frame, promise: nil)
    }

    // MARK: - Closing

    /// Sends a close frame with `code` after the frames already queued; idempotent.
    ///
    /// The close frame queues behind whatever the socket still holds, so a client that has
    /// stopped reading would never see it and would keep its buffers forever: after
    /// `closeGrace` the connection is dropped without the handshake.
    func close(code: UInt16, reason: String) {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        cancelInbound()
        onClosing(self)
        // The client's answer to our close frame must be read: reading resumes if paused.
        let wasPaused = inbound.withLock { inbound in
            defer { inbound.readingPaused = false }
            return inbound.readingPaused
        }
        if wasPaused { channel.pipeline.fireUserInboundEventTriggered(ResumeReading()) }
        let channel = channel
        channel.eventLoop.execute { [self] in
            writeClose(code: code, reason: reason)
        }
        channel.eventLoop.scheduleTask(in: closeGrace) { channel.close(promise: nil) }
    }

    /// The client's close frame: the answer to ours ends the connection; a close the client
    /// started is answered with its code, then the connection ends.
    func closeReceived(_ payload: ByteBuffer) {
        channel.eventLoop.assertInEventLoop()
        closed.store(true, ordering: .releasing)
        cancelInbound()
        onClosing(self)
        if loop.value.closeSent {
            channel.close(promise: nil)
            return
        }
        var payload = payload
        // No payload is a close without a code (answered 1000); otherwise a code a peer may
        // send (RFC 6455 §7.4) is echoed, and a one-byte payload, any other code or a reason
        // that is not UTF-8 is a protocol error (§5.5.1, §7.1.6): answered 1002.
        let code: UInt16
        if payload.readableBytes == 0 {
            code = 1000
        } else if let sent = payload.readInteger(as: UInt16.self),
                  (1000...1003).contains(sent) || (1007...1014).contains(sent) || (3000...4999).contains(sent),
                  String(validating: payload.readableBytesView, as: UTF8.self) != nil {
            code = sent
        } else {
            code = 1002
        }
        writeClose(code: code, reason: "").whenComplete { [channel] _ in channel.close(promise: nil) }
    }

    @discardableResult
    private func writeClose(code: UInt16, reason: String) -> EventLoopFuture<Void> {
        guard !loop.value.closeSent else { return channel.eventLoop.makeSucceededVoidFuture() }
        loop.value.closeSent = true
        var data = channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.writeInteger(code)
        data.writeString(reason)
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: data), promise: promise)
        return promise.futureResult
    }

    /// Marks the connection closed after the socket went away.
    func finish() {
        closed.store(true, ordering: .releasing)
        cancelInbound()
    }

    // MARK: - Inbound

    /// Queues a client message for `hub`.
    func receive(_ text: String, hub: LiveHub) -> Reception {
        let queued: (start: Bool, pause: Bool)? = inbound.withLock { inbound in
            guard inbound.queue.count < Self.inboundHardLimit, inbound.bytes + text.utf8.count <= Self.inboundByteLimit else { return nil }
            inbound.queue.append(text)
            inbound.bytes += text.utf8.count
            let pause = inbound.queue.count >= Self.inboundLimit || inbound.bytes >= Self.inboundByteLimit / 2
            if pause { inbound.readingPaused = true }
            if inbound.running { return (false, pause) }
            inbound.running = true
            return (true, pause)
        }
        guard let (start, pause) = queued else { return .refused }
        // A task only while there is something to handle: an idle connection holds none.
        // The hub counts it, and waits for it when stopping; closing cancels its waits.
        if start {
            hub.inboundWork.begin()
            let task = Task {
                await self.handleInbound(hub)
                hub.inboundWork.end()
            }
            inboundTask.withLock { $0 = task }
            if isClosed { task.cancel() }
        }
        return .queued(pauseReading: pause)
    }

    private func handleInbound(_ hub: LiveHub) async {
        while let text = nextInbound() {
            await hub.handle(text, from: self)
        }
    }

    /// Ends the waits of the operation being handled (such as a subscribe waiting for the
    /// projections at start): nobody would hear its answer.
    private func cancelInbound() {
        inboundTask.withLock { $0 }?.cancel()
    }

    /// The next message to handle; nil (and the worker stops) when there is none, or when
    /// the connection has closed and nobody would hear the answers.
    private func nextInbound() -> String? {
        let (text, resume) = inbound.withLock { inbound -> (String?, Bool) in
            guard !isClosed, let text = inbound.queue.popFirst() else {
                inbound.queue.removeAll()
                inbound.bytes = 0
                inbound.running = false
                return (nil, false)
            }
            inbound.bytes -= text.utf8.count
            // Half drained: read again, so the next requests arrive before these run out.
            guard inbound.readingPaused, inbound.queue.count <= Self.inboundLimit / 2, inbound.bytes < Self.inboundByteLimit / 4 else {
                return (text, false)
            }
            inbound.readingPaused = false
            return (text, true)
        }
        if resume { channel.pipeline.fireUserInboundEventTriggered(ResumeReading()) }
        return text
    }

    // MARK: - Subscriptions

    func setSubscription(_ subscription: Subscription?, for channel: LiveChannel) {
        subscriptions.withLock { $0[channel] = subscription }
    }

    /// Runs `body` on one channel's subscription atomically (the hub's delivery and a
    /// replay's hand-over to live both go through here, so no frame is lost or sent twice).
    func withSubscription<R>(_ channel: LiveChannel, _ body: (inout Subscription?) -> R) -> R {
        subscriptions.withLock { body(&$0[channel]) }
    }

    var subscribedChats: [ChatID] {
        subscriptions.withLock { subscriptions in
            subscriptions.keys.compactMap { if case .chat(let chat) = $0 { chat } else { nil } }
        }
    }
}
