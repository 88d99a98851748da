import ChatFlowCore
import ChatFlowStorage
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Live delivery: takes each batch of events right after the projector applied it (like a
/// change stream feeding a delivery worker) and queues one encoded frame per event and
/// channel to every subscribed connection.
///
/// Channels: `chats/{chatId}` (members only) and `users/me/notifications` (messages in the
/// user's chats, reactions to the user's messages, membership changes affecting the user,
/// the user's own read markers).
/// Both resume with `since`: the missed events are replayed from the log, then the channel
/// goes live with no gap and no repeat.
package final class LiveHub: Service, Sendable {
    private struct State {
        var connections: [Int: LiveConnection] = [:]
        /// Per chat, its subscribed connections, each with the projections' position when it
        /// subscribed: its membership was judged on a state holding every event up to there.
        var chatSubscribers: [ChatID: [Int: ULID]] = [:]
        var notificationSubscribers: [UserID: Set<Int>] = [:]
        /// Per user, their registered connections (`open`), and how many of them the server
        /// or the client has begun to close (`closing`).
        var perUser: [UserID: (open: Int, closing: Int)] = [:]
        /// The connections counted as closing in `perUser`.
        var closing: Set<Int> = []
        var nextID = 0
        /// Set before the shutdown sweep: a socket upgraded after it is closed at once.
        var stopping = false

        /// Counts a registered connection as closing, once.
        mutating func noteClosing(_ connection: LiveConnection) {
            guard connections[connection.id] != nil, closing.insert(connection.id).inserted else { return }
            perUser[connection.user, default: (0, 0)].closing += 1
        }

        /// Whether `user` may open another connection: at most `limit` that are not closing,
        /// and at most as many again that are (a close handshake may take `closeGrace` to run
        /// out, and a client the server closed must not wait for it to reconnect; but each one
        /// still holds its buffers until then, so the server closing them is no way around
        /// the limit either).
        func hasRoom(for user: UserID, limit: Int) -> Bool {
            let counts = perUser[user] ?? (0, 0)
            return limit == 0 || (counts.open - counts.closing < limit && counts.open < 2 * limit)
        }

        /// Takes a connection off a channel, and the channel off the table with its last
        /// subscriber (a table of empty sets would only grow, and would keep the
        /// notifications work going for nobody).
        mutating func unsubscribe(_ id: Int, from channel: LiveChannel, of user: UserID) {
            switch channel {
            case .chat(let chat):
                chatSubscribers[chat]?[id] = nil
                if chatSubscribers[chat]?.isEmpty == true { chatSubscribers[chat] = nil }
            case .notifications:
                notificationSubscribers[user]?.remove(id)
                if notificationSubscribers[user]?.isEmpty == true { notificationSubscribers[user] = nil }
            }
        }
    }

    private let state = Mutex(State())

    /// Subscriptions to chats (a connection per chat) and to notifications, for `/metrics`.
    var subscriptionCounts: (chats: Int, notifications: Int) {
        state.withLock { state in
            (state.chatSubscribers.values.reduce(0) { $0 + $1.count },
             state.notificationSubscribers.values.reduce(0) { $0 + $1.count })
        }
    }
    /// Bytes of frames waiting for clients' sockets, all connections together, for `/metrics`.
    var queuedBytes: Int { budget.waiting }

    /// Held while frames are chosen and handed to the event loops (a batch of events, a
    /// typing indicator), and while a subscription changes with the answer that says so.
    /// A frame chosen under the old subscription then reaches its loop before that answer,
    /// never after: without it a client could get events after `unsubscribed`, or, resuming
    /// a chat it was already live on, an event both before and inside the replay.
    private let handOver = Mutex(())
    private let commands: ChatFlowCommands
    private let projector: Projector
    private let metrics: ServerMetrics
    let queueLimit: Int
    /// Bytes of frames a connection may have waiting for its socket (`ServerConfiguration.webSocketQueueBytes`).
    let queueBytes: Int
    /// Bytes of frames all connections together may have waiting (`ServerConfiguration.webSocketQueueTotalBytes`).
    let budget: OutboundBudget
    /// Connections one user may have open (0: no limit).
    let perUserLimit: Int
    /// Log events a resuming subscription may read through (`ServerConfiguration.webSocketReplayLimit`).
    let replayLimit: Int
    private let closeGrace: TimeAmount
    private let logger: Logger
    /// For tests that need the hub behind the projections.
    package let deliveryPause = DeliveryPause()
    /// The users' read limit (as for HTTP reads), which subscribes count against: each is a
    /// membership check and bookkeeping under the hub's locks, and a loop of them from a
    /// few sockets held the server's cores.
    private let reads: RateLimiter

    package init(
        commands: ChatFlowCommands, projector: Projector, metrics: ServerMetrics,
        queueLimit: Int, queueBytes: Int = ServerConfiguration.defaultWebSocketQueueBytes,
        queueTotalBytes: Int = ServerConfiguration.defaultWebSocketQueueTotalBytes,
        perUserLimit: Int = 0, replayLimit: Int = 100_000, closeGrace: TimeAmount, logger: Logger,
        replayGate: ReplayGate? = nil, reads: RateLimiter = RateLimiter(rate: 0, burst: 1)
    ) {
        self.reads = reads
        // One replay per core but one unless a test brings its own gate.
        self.replayGate = replayGate ?? ReplayGate(limit: max(1, ProcessInfo.processInfo.activeProcessorCount - 1))
        self.perUserLimit = perUserLimit
        self.replayLimit = replayLimit
        self.commands = commands
        self.projector = projector
        self.metrics = metrics
        self.queueLimit = queueLimit
        self.queueBytes = queueBytes
        budget = OutboundBudget(limit: queueTotalBytes, share: min(64 * 1024, queueBytes))
        self.closeGrace = closeGrace
        self.logger = logger
    }

    package func run() async throws {
        let batches = projector.subscribe(preparing: { [self] in prepare($0) })
        await cancelWhenGracefulShutdown {
            for await batch in batches {
                await self.deliveryPause.pass()
                self.deliver(batch)
            }
        }
        // Shutting down: tell every client, so it reconnects to the next server.
        let open = state.withLock { state in
            state.stopping = true
            return Array(state.connections.values)
        }
        for connection in open {
            connection.close(code: 1001, reason: "server shutting down")
            replayGate.cancel(connection: connection.id)
        }
        // Operations still being handled end soon (their connections are closed, their
        // waits cancelled); the projector and the database stop after this returns.
        await inboundWork.waitUntilIdle()
    }

    // MARK: - Connections

    /// Whether `user` may open another connection. Upgrades are refused early with this;
    /// `connect` decides for good, as upgrades run concurrently.
    func hasRoom(for user: UserID) -> Bool {
        state.withLock { $0.hasRoom(for: user, limit: perUserLimit) }
    }

    /// Registers the connection of an upgraded socket, or closes it when the server is
    /// stopping or its user already has `perUserLimit` open. A connection refused here is
    /// never counted: its close may take `closeGrace` to run out, and counting it meanwhile
    /// kept the user's own reconnects out (429) and showed more sockets than the limit. For
    /// the same reason a connection that is closing counts apart (`State.hasRoom`).
    package func connect(user: UserID, channel: any Channel) -> LiveConnection {
        let (connection, refusal) = state.withLock { state -> (LiveConnection, (code: UInt16, reason: String)?) in
            defer { state.nextID += 1 }
            let connection = LiveConnection(
                id: state.nextID, user: user, channel: channel,
                queueLimit: queueLimit, queueBytes: queueBytes, budget: budget, closeGrace: closeGrace,
                onClosing: { [weak self] connection in self?.state.withLock { $0.noteClosing(connection) } })
            if state.stopping { return (connection, (1001, "server shutting down")) }
            guard state.hasRoom(for: user, limit: perUserLimit) else {
                return (connection, (1008, "too many WebSockets open for this user (\(perUserLimit))"))
            }
            state.connections[connection.id] = connection
            state.perUser[user, default: (0, 0)].open += 1
            return (connection, nil)
        }
        if let refusal {
            connection.close(code: refusal.code, reason: refusal.reason)
        } else {
            metrics.openConnections.increment()
        }
        return connection
    }

    /// Forgets `connection`, once: a second call, or one for a connection `connect`
    /// refused, changes nothing.
    func disconnect(_ connection: LiveConnection) {
        connection.finish()
        let known = state.withLock { state -> Bool in
            guard state.connections.removeValue(forKey: connection.id) != nil else { return false }
            var counts = state.perUser[connection.user] ?? (1, 0)
            counts.open -= 1
            if state.closing.remove(connection.id) != nil { counts.closing -= 1 }
            state.perUser[connection.user] = counts.open > 0 ? counts : nil
            for chat in connection.subscribedChats { state.unsubscribe(connection.id, from: .chat(chat), of: connection.user) }
            state.unsubscribe(connection.id, from: .notifications, of: connection.user)
            return true
        }
        guard known else { return }
        replayGate.cancel(connection: connection.id)
        metrics.openConnections.decrement()
    }

    // MARK: - Client operations

    package func handle(_ text: String, from connection: LiveConnection) async {
        let json = Data(text.utf8)
        // Checked as request bodies are: valid JSON throughout, and no field given twice.
        if let problem = RequestBody.problem(with: json, in: "the frame") {
            guard await pace(connection) else { return }
            send(LiveFrame.error("invalid", problem.detail), to: connection)
            return
        }
        let operation: ClientOperation
        do {
            operation = try JSONDecoder().decode(ClientOperation.self, from: json)
        } catch let DecodingError.typeMismatch(_, context) where context.codingPath.count == 1 {
            // Named as HTTP names a body's field, with the channel when it is one, so the
            // client can match the answer with its request.
            let field = context.codingPath[0].stringValue
            let channel = (try? JSONSerialization.jsonObject(with: json) as? [String: Any])?["channel"] as? String
            guard await pace(connection) else { return }
            send(LiveFrame.error("invalid", "field '\(field)' must be a string", channel: channel), to: connection)
            return
        } catch {
            guard await pace(connection) else { return }
            send(LiveFrame.error("invalid", "frames are JSON objects with an op: subscribe, unsubscribe, typing or ping"), to: connection)
            return
        }
        // Every operation but a subscribe (answered `rate_limited` past the limit, below)
        // waits for the user's read budget.
        if operation.op != "subscribe" { guard await pace(connection) else { return } }
        switch operation.op {
        case "ping":
            send(LiveFrame.pong, to: connection)
        case "subscribe":
            if let wait = reads.take(connection.user) {
                let seconds = RateLimitMiddleware.retryAfterSeconds(wait)
                send(LiveFrame.error(
                    "rate_limited", "too many subscribes (they count as reads); retry in \(seconds) s",
                    channel: operation.channel), to: connection)
                // And the next frame waits as long: subscribes sent flat out cost as much
                // as pings did.
                try? await Task.sleep(for: .seconds(wait))
            } else {
                await subscribe(connection, channel: operation.channel, since: operation.since)
            }
        case "unsubscribe":
            // Never refused: it asks for less, and costs little.
            unsubscribe(connection, channel: operation.channel)
        case "typing":
            typing(connection, chatID: operation.chatId)
        default:
            send(LiveFrame.error("invalid", "unknown op '\(ProblemDetail.quote(operation.op))'; use subscribe, unsubscribe, typing or ping"), to: connection)
        }
    }

    /// Waits until the user's read budget has room for one more frame and takes it. Frames
    /// are handled one at a time per socket, and a socket whose frames wait stops being
    /// read: a client sending pings (or anything) flat out is slowed to the read limit by
    /// TCP instead of taking the server's cores (four sockets took 1.6 of 2).
    /// False when the connection closed meanwhile (its frame is then not handled). The
    /// budget is the one the user's HTTP reads take from too.
    private func pace(_ connection: LiveConnection) async -> Bool {
        while let wait = reads.take(connection.user) {
            do { try await Task.sleep(for: .seconds(wait)) } catch { return false }
        }
        return !connection.isClosed
    }

    private func subscribe(_ connection: LiveConnection, channel requested: String?, since: String?) async {
        guard let requested else {
            send(LiveFrame.error("invalid", "subscribe needs a channel: chats/{chatId} or \(LiveChannel.notificationsName)"), to: connection)
            return
        }
        // Until the projections hold what the log held at the start, membership is not known
        // (a projection may be starting over) and the events up to the start are not handed
        // to the hub: answer once they are.
        if !projector.hasReachedStart, let start = projector.startPosition {
            await projector.applied.wait(reaching: start)
            // Closed, or the server stopping: the projections may never get there.
            guard !connection.isClosed, projector.hasReachedStart else { return }
        }
        guard let channel = LiveChannel(name: requested) else {
            // The detail quotes at most 64 Unicode scalars of it: `channel` carries it whole, for the
            // client to match the answer with its request.
            let quoted = ProblemDetail.quote(requested)
            send(LiveFrame.error(
                "invalid", "unknown channel '\(quoted)'; use chats/{chatId} or \(LiveChannel.notificationsName)", channel: requested), to: connection)
            return
        }
        var position: ULID?
        if let since {
            let parsed: ULID
            do {
                parsed = try ULID.parse(since)
            } catch {
                // A request that cannot be read changes nothing, as a field of the wrong type
                // does: a subscription already there goes on. (A resume refused for where it
                // would start ends it, below: the client is to start afresh.)
                send(LiveFrame.error("invalid", "since must be an event id: \(error)", channel: channel.description), to: connection)
                return
            }
            // An id from the future was never given out, and one in a gap a restore left was
            // given out by a history the server no longer has: going on from there would
            // leave the client showing events that are gone, so it is told to reload. Ids
            // between the log's last event and now are let through (nothing is missed after
            // them): refusing those would tell anyone who asks the id of the newest event,
            // in whatever chat.
            let now = ULIDGenerator.wallClockMilliseconds()
            let newest = max(now, projector.log.lastPosition?.timestamp ?? 0)
            let lost: Bool
            do {
                lost = try RestoreGaps.contain(parsed, in: projector.log.database)
            } catch {
                endSubscription(connection, channel, LiveFrame.error("unavailable", "the server could not check since; retry in a moment", channel: channel.description))
                return
            }
            if parsed.timestamp > newest || lost {
                endSubscription(connection, channel, LiveFrame.error(
                    "unknown_since",
                    "since \(parsed) is not an event this server has (it may have been restored from a backup): "
                        + "reload over HTTP, then subscribe without since",
                    channel: channel.description))
                return
            }
            position = parsed
        }
        if let refusal = membershipRefusal(channel, connection.user) {
            send(refusal, to: connection)
            return
        }

        // Register first, holding live frames back, then confirm, replay history, and hand
        // over: whatever is applied meanwhile waits in `pending`, de-duplicated by id, and
        // goes out before any later frame, so the client sees one ordered stream.
        let previous = handOver.withLock { _ in
            connection.withSubscription(channel) { subscription in
                defer { subscription = .replaying(pending: [], bytes: 0, leaving: false) }
                return subscription
            }
        }
        // Read before the check below, which then sees at least this much.
        let judgedAt = projector.applied.position ?? .zero
        let registered = state.withLock { state in
            guard state.connections[connection.id] != nil else { return false }
            switch channel {
            case .chat(let chat): state.chatSubscribers[chat, default: [:]][connection.id] = judgedAt
            case .notifications: state.notificationSubscribers[connection.user, default: []].insert(connection.id)
            }
            return true
        }
        guard registered else { return }
        // A removal applied between the check and the registration dropped nothing yet.
        if let refusal = membershipRefusal(channel, connection.user) {
            endSubscription(connection, channel, refusal)
            return
        }
        // With `since`, the replay confirms once it knows it can fill the gap: a client told
        // `recovered` is not then told it is too far behind (unless retention removes what
        // the replay has yet to send while it runs).
        if position == nil { send(LiveFrame.subscribed(channel: channel.description, recovered: false), to: connection) }

        // Without `since`, a new subscription starts where its membership was judged: a busy
        // hub may still be handing on events from before it, such as the user's own earlier
        // `member.left`. One replacing a live subscription on this socket keeps that one's
        // starting point, so events the hub has yet to hand on still reach the client.
        // Unless the user left and joined again since that one last sent: what the hub has
        // yet to hand on then holds what came while they were out, and the leaving that ends
        // the subscription it replaces, which it no longer would.
        var lastSent = position
        if position == nil {
            let fresh = judgedAt != .zero ? judgedAt : nil
            if case .live(let sent)? = previous {
                lastSent = sent.map { leftSince($0, channel, connection.user, upTo: judgedAt) } == true ? fresh : sent
            } else if previous == nil {
                lastSent = fresh
            }
        }
        if let start = position {
            switch await replay(channel, after: start, to: connection, confirming: true) {
            case .replayed(let last): lastSent = last
            case .ended: return
            }
        }
        // Hand over: send what was held back, until nothing more is, then go live in the
        // same step, so no later frame can overtake a held-back one. A user who left while
        // the replay ran gets the held frames up to their `member.left`, then `unsubscribed`.
        // When more came meanwhile than could be held, the replay goes on from the log first.
        while true {
            let step = connection.withSubscription(channel) { subscription -> HandOverStep? in
                guard case .replaying(let pending, _, let leaving)? = subscription else { return nil }
                guard let pending else {
                    subscription = .replaying(pending: [], bytes: 0, leaving: leaving)
                    return .catchUp
                }
                if pending.isEmpty {
                    subscription = leaving ? nil : .live(lastSent: lastSent)
                    return .done(leaving: leaving)
                }
                subscription = .replaying(pending: [], bytes: 0, leaving: leaving)
                return .send(pending)
            }
            switch step {
            case nil:
                // Ended by the replay, which told the client.
                return
            case .done(let leaving):
                if leaving { endLeft(connection, channel) }
                return
            case .catchUp:
                metrics.replayCatchUps.increment()
                switch await replay(channel, after: lastSent ?? judgedAt, to: connection) {
                case .replayed(let last): lastSent = last
                case .ended: return
                }
            case .send(let frames):
                for (id, frame) in frames where id.map({ id in lastSent.map { id > $0 } ?? true }) ?? true {
                    if !send(frame, to: connection) { return }
                    if let id { lastSent = id }
                }
            }
        }
    }

    /// What the hand-over from a replay to live delivery does next.
    private enum HandOverStep {
        /// Send the frames held meanwhile, then look again.
        case send([(ULID?, ByteBuffer)])
        /// More came than could be held: replay from the log up to the projections again.
        case catchUp
        /// Nothing is held: live now, or ended for a user who left.
        case done(leaving: Bool)
    }

    /// Ends the subscription of a user who left the chat, after their `member.left`.
    private func endLeft(_ connection: LiveConnection, _ channel: LiveChannel) {
        endSubscription(connection, channel, LiveFrame.unsubscribed(channel: channel.description))
    }

    private enum ReplayOutcome {
        /// Sent everything up to the projections' position; the last id sent, if any.
        case replayed(last: ULID?)
        /// Ended with an error frame (too far behind, unreadable), at the user's own
        /// `member.left` (with `unsubscribed`), or on a closed connection.
        case ended
    }

    /// Sends the channel's events after `start` up to what the projections have applied,
    /// read from the log on a queue of its own: up to `replayLimit` reads and decodes must
    /// not hold a thread of the task pool the event loops' requests need.
    /// `confirming`: answer the subscribe (`subscribed`, recovered) once the replay knows it
    /// can be made, before its first event.
    ///
    /// A long replay takes turns: after each page of the log, when someone else waits at
    /// the gate, it goes behind them. One member resuming a busy chat from far back held
    /// the only turn of a 2-core machine for seconds, while another member one event behind
    /// waited for all of it.
    private func replay(_ channel: LiveChannel, after start: ULID, to connection: LiveConnection, confirming: Bool = false) async -> ReplayOutcome {
        guard await enterReplayGate(connection) else { return .ended }
        var holding = true
        defer { if holding { leaveReplayGate(connection) } }
        guard let progress = await onReplayQueue({ self.startReplay(channel, after: start, to: connection, confirming: confirming) }) else {
            return .ended
        }
        while true {
            switch await onReplayQueue({ self.continueReplay(progress, channel, to: connection) }) {
            case .finished:
                return .replayed(last: progress.lastSent ?? start)
            case .ended:
                return .ended
            case .yielded:
                metrics.replayTurnsGiven.increment()
                leaveReplayGate(connection)
                holding = false
                guard await enterReplayGate(connection) else { return .ended }
                holding = true
            case .awaitingClient:
                metrics.replayTurnsGiven.increment()
                leaveReplayGate(connection)
                holding = false
                // Out of the turns meanwhile: a crowd of stalled readers took a turn each,
                // every round, and held back the replays of everyone else for minutes.
                let since = progress.stalledSince ?? DispatchTime.now().uptimeNanoseconds
                let left = closeGrace.nanoseconds - Int64(DispatchTime.now().uptimeNanoseconds - since)
                // Back once half the window has gone: at the first frame taken, a slow reader
                // sent a frame a turn.
                let room = left > 0 ? ((try? await connection.room(below: replayWindow / 2, timeout: .nanoseconds(left)).get()) ?? false) : false
                if !room, !connection.isClosed {
                    closeSlow(connection)
                    return .ended
                }
                // Waiting for the next turn is not the client's doing.
                progress.stalledSince = nil
                guard await enterReplayGate(connection) else { return .ended }
                holding = true
            }
        }
    }

    /// Waits for a turn to replay; false when the connection closed first (the hub drops
    /// the waits of a closing connection once; one closing between two turns of its replay
    /// is caught by the gate, which asks under the lock that dropping takes).
    private func enterReplayGate(_ connection: LiveConnection) async -> Bool {
        guard !connection.isClosed else { return false }
        metrics.replaysWaiting.increment()
        let admitted = await replayGate.enter(connection.user, connection: connection.id) { connection.isClosed }
        metrics.replaysWaiting.decrement()
        guard admitted else { return false }
        metrics.replaysRunning.increment()
        if connection.isClosed {
            leaveReplayGate(connection)
            return false
        }
        return true
    }

    private func leaveReplayGate(_ connection: LiveConnection) {
        replayGate.leave(connection.user)
        metrics.replaysRunning.decrement()
    }

    private func onReplayQueue<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Self.replayQueue.async { continuation.resume(returning: work()) }
        }
    }

    private static let replayQueue = DispatchQueue(label: "chatflow.live.replay", attributes: .concurrent)
    /// Replays run one per user and on all cores but one: the last keeps serving requests.
    let replayGate: ReplayGate
    /// Client operations being handled, which `run` waits for when stopping.
    let inboundWork = WorkCounter()

    /// The checks a replay makes before its first event; nil when it ended there.
    private func startReplay(_ channel: LiveChannel, after start: ULID, to connection: LiveConnection, confirming: Bool) -> ReplayProgress? {
        let progress = ReplayProgress(start: start, end: projector.applied.position, confirming: confirming)
        do {
            if channel == .notifications, progress.end != nil {
                progress.readAhead = ReplayProgress.ReadAhead(cursor: start)
            }
            if try passedByRetention(progress, channel, connection) { return nil }
            // A chat's events, from its index: a replay reads and counts only them, however
            // busy the other chats were. Read ahead, so a client too far behind hears so
            // before any of them rather than after the limit's worth.
            if case .chat(let chat) = channel, let end = progress.end {
                let ids = try commands.reader.chatEventIDs(of: chat, after: start, upTo: end, limit: replayLimit + 1)
                guard ids.count <= replayLimit else {
                    endTooFarBehind(connection, channel, since: start)
                    return nil
                }
                progress.chatEvents = ids[...]
            }
            // Away also from the start, when `since` is their own leaving (the last event
            // they heard before they left).
            if case .chat(let chat) = channel, let record = try projector.log.record(start),
               case .memberLeft(let left) = try LoggedEvent(record).event,
               left.chat == chat, left.user == connection.user {
                progress.away = true
            }
            // And when `since` is from before they joined: they hear the chat from their
            // joining, as one who left and came back hears it from their return. What came
            // before (names edited away, members and reactions come and gone) no HTTP
            // answer shows them either; the messages are in its history.
            // One no longer a member (they left while this waited for its turn) may have
            // joined after `since` too: their comings and goings tell.
            if case .chat(let chat) = channel, !progress.away, let ids = progress.chatEvents {
                let joined = try commands.reader.memberSince(connection.user, of: chat)
                if joined.map({ start.timestamp < $0 }) ?? true {
                    // Joining first: they were not a member before it.
                    progress.away = try firstComingOrGoing(
                        of: connection.user, in: chat, among: joined.map { joined in ids.prefix { $0.timestamp <= joined } } ?? ids) == true
                }
            }
            return progress
        } catch {
            // Going live after a failed replay would leave a gap the client cannot see.
            endSubscription(connection, channel, LiveFrame.error("unavailable", "history could not be read; resubscribe", channel: channel.description))
            return nil
        }
    }

    /// Whether the user left the chat of `channel` after `start`, up to `end`; true also when
    /// that cannot be told for sure.
    private func leftSince(_ start: ULID, _ channel: LiveChannel, _ user: UserID, upTo end: ULID) -> Bool {
        guard case .chat(let chat) = channel else { return false }
        do {
            // A membership older than `start` has lasted through it, one younger has not; in
            // the same millisecond, the chat's events tell.
            guard let joined = try commands.reader.memberSince(user, of: chat) else { return true }
            if joined != start.timestamp { return joined > start.timestamp }
            let ids = try commands.reader.chatEventIDs(of: chat, after: start, upTo: end, limit: replayLimit + 1)
            guard ids.count <= replayLimit else { return true }
            // A member now who came or went since then left first.
            return try firstComingOrGoing(of: user, in: chat, among: ids[...]) != nil
        } catch {
            return true
        }
    }

    /// The first of the user's own comings and goings among `ids` (a chat's events): true
    /// for a joining, false for a leaving, nil for neither (the chat's creator has no joining).
    private func firstComingOrGoing(of user: UserID, in chat: ChatID, among ids: ArraySlice<ULID>) throws -> Bool? {
        for id in ids {
            guard let record = try projector.log.record(id) else { continue }
            switch try LoggedEvent(record).event {
            case .memberJoined(let joined) where joined.chat == chat && joined.user == user: return true
            case .memberLeft(let left) where left.chat == chat && left.user == user: return false
            default: continue
            }
        }
        return nil
    }

    /// Sends pages of the replay until it is done, or until another user's replay waits
    /// for a turn while more remains.
    private func continueReplay(_ progress: ReplayProgress, _ channel: LiveChannel, to connection: LiveConnection) -> ReplayProgress.Turn {
        do {
            while progress.readAhead != nil {
                guard let more = try readAhead(progress, for: connection) else { return .ended }
                if more && replayGate.othersWait(besides: connection.user) { return .yielded }
            }
            if progress.confirming {
                send(LiveFrame.subscribed(channel: channel.description, recovered: true), to: connection)
                progress.confirming = false
            }
            replaying: while let upTo = progress.end, progress.cursor.map({ $0 < upTo }) ?? true {
                if connection.isClosed { return .ended }
                switch awaitRoom(progress, connection) {
                case .room: break
                case .yield: return .awaitingClient
                case .stalled:
                    closeSlow(connection)
                    return .ended
                }
                let records: [LogRecord]
                if let ids = progress.chatEvents {
                    let page = ids.prefix(ReplayProgress.pageSize)
                    progress.chatEvents = ids.dropFirst(page.count)
                    records = try page.compactMap { try projector.log.record($0) }
                    // Retention removed some while the replay ran (or waited for its turn):
                    // the client would have a gap it cannot see.
                    if records.count < page.count {
                        endRemovedByRetention(connection, channel)
                        return .ended
                    }
                } else {
                    records = try projector.log.read(after: progress.cursor, limit: ReplayProgress.pageSize)
                    // The same for the log: what lay between the cursor and the horizon may
                    // be gone.
                    if try passedByRetention(progress, channel, connection) { return .ended }
                }
                if records.isEmpty { break }
                progress.notifications?.refresh()
                // What the window has room for now (`awaitRoom` made some).
                let budget = replayWindow - connection.waitingBytes
                var pageBytes = 0
                var stoppedEarly = false
                for (index, record) in records.enumerated() {
                    if record.id > upTo { break replaying }
                    // Nobody is listening any more: stop reading the log for them.
                    if connection.isClosed { return .ended }
                    // A window's worth sent: the rest of the page waits until the client has
                    // taken it, read again from here (the log's cursor is at the record before).
                    if pageBytes > 0, pageBytes >= budget {
                        if let rest = progress.chatEvents { progress.chatEvents = ArraySlice(records[index...].map(\.id)) + rest }
                        stoppedEarly = true
                        break
                    }
                    progress.read += 1
                    if progress.read > replayLimit {
                        endTooFarBehind(connection, channel, since: progress.start)
                        return .ended
                    }
                    progress.cursor = record.id
                    let logged = try LoggedEvent(record)
                    guard let (eventChat, event) = LiveEvent.from(logged) else { continue }
                    switch channel {
                    case .chat(let chat):
                        guard eventChat == chat, event.reachesTheChat else { continue }
                        if progress.away {
                            guard case .memberJoined(let joined) = logged.event, joined.user == connection.user else { continue }
                            progress.away = false
                        }
                    case .notifications:
                        guard try progress.notifications?.admits(logged, in: eventChat) == true else { continue }
                    }
                    guard let current = try redacted(event) else { continue }
                    let frame = LiveFrame.event(channel: channel.description, id: record.id.description, event: current)
                    if !send(frame, to: connection) { return .ended }
                    pageBytes += frame.utf8.count
                    progress.lastSent = record.id
                    // The user's own leaving: the replay skips to their `member.joined`, if
                    // one follows, and goes on from there.
                    if case .chat = channel, case .memberLeft(let left) = logged.event, left.user == connection.user {
                        progress.away = true
                    }
                }
                let more = stoppedEarly || (progress.chatEvents.map { !$0.isEmpty } ?? (records.count == ReplayProgress.pageSize && progress.cursor.map { $0 < upTo } ?? true))
                if more && replayGate.othersWait(besides: connection.user) { return .yielded }
            }
            // Out of the chat at the end: their last leaving is the last they hear of it, as
            // live (the hub, which may be behind the projections, would end it only later).
            // Unless they joined again since the replay's end: the hub brings that.
            if progress.away && membershipRefusal(channel, connection.user) != nil {
                endLeft(connection, channel)
                return .ended
            }
        } catch {
            endSubscription(connection, channel, LiveFrame.error("unavailable", "history could not be read; resubscribe", channel: channel.description))
            return .ended
        }
        return .finished
    }

    private func endTooFarBehind(_ connection: LiveConnection, _ channel: LiveChannel, since start: ULID) {
        endSubscription(connection, channel, LiveFrame.error(
            "too_far_behind",
            "more than \(replayLimit) events happened since \(start): reload over HTTP, then subscribe without since",
            channel: channel.description))
    }

    /// Whether retention removed events the replay has yet to send (resuming from before
    /// its horizon would leave a gap the client cannot see); if so the subscription ends.
    private func passedByRetention(_ progress: ReplayProgress, _ channel: LiveChannel, _ connection: LiveConnection) throws -> Bool {
        guard let horizon = try RetentionState.horizon(in: projector.log.database),
              let position = progress.cursor, position < horizon else { return false }
        endRemovedByRetention(connection, channel, horizon: horizon)
        return true
    }

    private func endRemovedByRetention(_ connection: LiveConnection, _ channel: LiveChannel, horizon: ULID? = nil) {
        let what = horizon.map { "events before \($0) were removed by retention" } ?? "events still to replay were removed by retention"
        endSubscription(connection, channel, LiveFrame.error(
            "too_far_behind", "\(what): reload over HTTP, then subscribe without since", channel: channel.description))
    }

    /// One page of a notifications replay's read-ahead: for each chat the user joined or
    /// left in `(start, end]`, whether they were a member before. The range is read ahead of
    /// the replay (as far as it may go), because a message comes before the join that tells
    /// it was posted while the user was out. Whether more is to read; nil when the
    /// subscription ended (closed, or too far behind).
    private func readAhead(_ progress: ReplayProgress, for connection: LiveConnection) throws -> Bool? {
        guard var ahead = progress.readAhead, let end = progress.end else {
            progress.readAhead = nil
            return false
        }
        if connection.isClosed { return nil }
        let records = ahead.cursor < end ? try projector.log.read(after: ahead.cursor, limit: ReplayProgress.pageSize) : []
        for record in records where record.id <= end {
            NotificationReplayFilter.noteMembershipBefore(try LoggedEvent(record), of: connection.user, in: &ahead.before)
            ahead.read += 1
        }
        // More than the replay would read (it counts the same events): said now, before
        // the resume is confirmed.
        if ahead.read > replayLimit {
            endTooFarBehind(connection, .notifications, since: progress.start)
            return nil
        }
        if let last = records.last, last.id < end, records.count == ReplayProgress.pageSize {
            ahead.cursor = last.id
            progress.readAhead = ahead
            return true
        }
        progress.readAhead = nil
        progress.notifications = NotificationReplayFilter(user: connection.user, reader: commands.reader, membershipBefore: ahead.before)
        return false
    }

    /// Who hears of an event on the notifications channel.
    private enum Audience {
        /// The chat's members, the one who acted too (their other devices show the chat
        /// list as well): what a chat list shows of each chat, its newest message and its name.
        case members
        case user(UserID)
    }

    private func audience(of logged: LoggedEvent, in chat: ChatID) throws -> Audience? {
        switch logged.event {
        case .messagePosted, .messageEdited, .messageDeleted, .chatUpdated:
            return .members
        case .reactionAdded(let added):
            return try reactionAudience(to: added.message, by: logged.actor, in: chat)
        case .reactionRemoved(let removed):
            return try reactionAudience(to: removed.message, by: logged.actor, in: chat)
        case .memberJoined(let joined):
            return .user(joined.user)
        case .memberLeft(let left):
            return .user(left.user)
        case .chatCreated:
            return .user(logged.actor)
        case .readMarkerMoved:
            // The user's other devices, so that a chat read on one is read on all; not once
            // they have left it (the marker went with them).
            return try commands.reader.role(of: logged.actor, in: chat) != nil ? .user(logged.actor) : nil
        default:
            return nil
        }
    }

    /// A reaction added or taken back is for the message's author, only while they are still
    /// a member: who reacts in a chat is not told to someone who left it or was removed.
    /// Both, so that counts kept from this channel go down as well as up.
    private func reactionAudience(to message: MessageID, by actor: UserID, in chat: ChatID) throws -> Audience? {
        guard let author = try commands.reader.messageFacts(message)?.author, author != actor,
              try commands.reader.role(of: author, in: chat) != nil else { return nil }
        return .user(author)
    }

    /// The error frame refusing `user` a subscription to `channel`, or nil when they may
    /// have it: a chat's to its members, the notifications to everyone.
    private func membershipRefusal(_ channel: LiveChannel, _ user: UserID) -> String? {
        guard case .chat(let chat) = channel else { return nil }
        do {
            try commands.requireMember(chat, user)
            return nil
        } catch let error as ChatFlowError {
            let code = if case .notFound = error { "not_found" } else { "forbidden" }
            return LiveFrame.error(code, ProblemDetail.from(error)?.detail ?? "\(error)", channel: channel.description)
        } catch {
            return LiveFrame.error("unavailable", "the subscription could not be checked; retry", channel: channel.description)
        }
    }

    /// A replayed message event with the message's text as it is now, and when it was last
    /// edited: a replay must not give back what was deleted or edited away (live frames
    /// carried it when it was current). Nil for an event about a message retention has
    /// removed since (an edit or a reaction after the horizon to one before it): an edit
    /// with empty text, or a reaction to a message that answers 404, would mislead.
    private func redacted(_ event: LiveEvent) throws -> LiveEvent? {
        guard let id = event.messageId.flatMap(ULID.init) else { return event }
        let now = try commands.reader.message(MessageID(id))
        guard let now else { return nil }
        guard event.kind == "message.created" || event.kind == "message.edited" else { return event }
        let content = now.deleted ? "" : now.content
        var event = event
        if event.kind == "message.created", let message = event.message {
            event.message = MessageView(
                id: message.id, chatId: message.chatId, userId: message.userId, content: content,
                messageType: message.messageType, createdAt: message.createdAt, editedAt: now.editedAt,
                deleted: now.deleted, reactions: [:])
        } else {
            event.content = content
        }
        return event
    }

    /// Ends a subscription that could not be resumed, telling the client why.
    private func endSubscription(_ connection: LiveConnection, _ channel: LiveChannel, _ frame: String) {
        handOver.withLock { _ in
            stopDelivering(channel, to: connection)
            send(frame, to: connection)
        }
    }

    private func stopDelivering(_ channel: LiveChannel, to connection: LiveConnection) {
        connection.setSubscription(nil, for: channel)
        state.withLock { $0.unsubscribe(connection.id, from: channel, of: connection.user) }
    }

    /// Ends a subscription; ending one that is not there is answered the same way (the
    /// client's wish holds either way). Every request gets an answer.
    private func unsubscribe(_ connection: LiveConnection, channel name: String?) {
        guard let channel = name.flatMap(LiveChannel.init(name:)) else {
            send(LiveFrame.error(
                "invalid", "unsubscribe needs a channel: chats/{chatId} or \(LiveChannel.notificationsName)", channel: name), to: connection)
            return
        }
        endSubscription(connection, channel, LiveFrame.unsubscribed(channel: channel.description))
    }

    /// Typing indicators go to the chat's other subscribers and are never logged; more than
    /// one a second per connection and chat are dropped.
    private func typing(_ connection: LiveConnection, chatID: String?) {
        guard let chatID, let chat = try? ChatID(parsing: chatID), (try? commands.requireMember(chat, connection.user)) != nil else {
            send(LiveFrame.error("invalid", "typing needs the chatId of a chat you are a member of"), to: connection)
            return
        }
        guard connection.mayPassOnTyping(in: chat) else { return }
        let channel = LiveChannel.chat(chat)
        let frame = LiveConnection.frame(LiveFrame.event(channel: channel.description, id: nil, event: .typing(chat: chat, user: connection.user)))
        handOver.withLock { _ in
            var outgoing = Outgoing()
            for target in subscribers(of: chat) where target.id != connection.id {
                deliver(frame, id: nil, on: channel, to: target, &outgoing)
            }
            send(outgoing)
        }
    }

    // MARK: - Delivery

    /// Frames gathered while a batch is delivered, in order per connection, so that each
    /// connection gets all of its frames in one hand-over to its event loop and one flush.
    private struct Outgoing {
        private(set) var connections: [LiveConnection] = []
        private(set) var frames: [Int: [ByteBuffer]] = [:]

        mutating func add(_ frame: ByteBuffer, to connection: LiveConnection) {
            if frames[connection.id] == nil { connections.append(connection) }
            frames[connection.id, default: []].append(frame)
        }
    }

    /// A batch as it is delivered: each event as clients see it, made once for its chat and
    /// for the notifications, and who hears of each on the notifications channel (empty:
    /// nobody listens).
    package struct PreparedBatch: Sendable {
        fileprivate let events: [(logged: LoggedEvent, chat: ChatID, event: LiveEvent)]
        fileprivate let notified: [[UserID]]
    }

    /// Called by the projector right after it applied `batch` (see `run`), before the next:
    /// the members read for the notifications are those the batch left.
    package func prepare(_ batch: [LoggedEvent]) -> PreparedBatch {
        let events = batch.compactMap { logged in LiveEvent.from(logged).map { (logged: logged, chat: $0.chat, event: $0.event) } }
        let hasListeners = state.withLock { !$0.notificationSubscribers.isEmpty }
        return PreparedBatch(events: events, notified: hasListeners ? notificationRecipients(of: events) : [])
    }

    /// Delivers a batch the projector has applied (tests hand some in themselves).
    package func deliver(_ batch: [LoggedEvent]) {
        deliver(prepare(batch))
    }

    private func deliver(_ batch: PreparedBatch) {
        handOver.withLock { _ in deliverHoldingHandOver(batch.events, notified: batch.notified) }
    }

    /// Per event, the users told of it on the notifications channel. An event for a chat's
    /// members goes to the members as of that event, as a replay from the log finds them:
    /// read as the batch left the projections (`prepare`), and walking back from its end,
    /// undoing the batch's own joins and leaves after the event. Read from the projections
    /// alone, someone who left and came back within one batch was told of what was posted
    /// while they were out; read while later batches were applied, someone who left in the
    /// next one was not told of a post they had been there for.
    private func notificationRecipients(of events: [(logged: LoggedEvent, chat: ChatID, event: LiveEvent)]) -> [[UserID]] {
        var recipients = [[UserID]](repeating: [], count: events.count)
        // Per chat, its members as of the event reached, with when they joined (0: before
        // a leave this batch undid, so before the events looked at).
        var members: [ChatID: [UserID: UInt64]] = [:]
        func loaded(_ chat: ChatID) -> [UserID: UInt64] {
            if let known = members[chat] { return known }
            let read = (try? commands.reader.memberJoinTimes(of: chat)) ?? [:]
            members[chat] = read
            return read
        }
        for index in events.indices.reversed() {
            let (logged, chat, _) = events[index]
            if let audience = (try? audience(of: logged, in: chat)) ?? nil {
                switch audience {
                case .members:
                    let time = logged.timeMilliseconds
                    recipients[index] = loaded(chat).compactMap { user, joinedAt in joinedAt <= time ? user : nil }
                case .user(let user):
                    recipients[index] = [user]
                }
            }
            // Undone for the events before it.
            switch logged.event {
            case .memberJoined(let joined):
                _ = loaded(chat)
                members[chat]?[joined.user] = nil
            case .memberLeft(let left):
                _ = loaded(chat)
                members[chat]?[left.user] = 0
            case .chatCreated:
                _ = loaded(chat)
                members[chat]?[logged.actor] = nil
            default:
                break
            }
        }
        return recipients
    }

    /// `notified`: per event, the users told of it on the notifications channel (empty:
    /// nobody is listening).
    private func deliverHoldingHandOver(_ events: [(logged: LoggedEvent, chat: ChatID, event: LiveEvent)], notified: [[UserID]]) {
        var outgoing = Outgoing()
        for (index, (logged, chat, event)) in events.enumerated() {
            let channel = LiveChannel.chat(chat)
            // A chat's creation is for its creator's notifications: its replay from the
            // chat's events has none (`ChatEventsProjection`), and live must match it.
            let isCreation = if case .chatCreated = logged.event { true } else { false }
            if event.reachesTheChat, !isCreation {
                let frame = LiveConnection.frame(LiveFrame.event(channel: channel.description, id: logged.id.description, event: event))
                for connection in subscribers(of: chat) {
                    deliver(frame, id: logged.id, on: channel, to: connection, &outgoing)
                }
            }
            if !notified.isEmpty { notify(logged, event: event, recipients: notified[index], &outgoing) }
            // A member who left stops receiving the chat at once, after this last event.
            if case .memberLeft(let left) = logged.event {
                dropSubscriptions(of: left.user, to: chat, leftAt: logged.id, &outgoing)
            }
        }
        send(outgoing)
    }

    private func deliver(_ frame: ByteBuffer, id: ULID?, on channel: LiveChannel, to connection: LiveConnection, _ outgoing: inout Outgoing) {
        enum Step { case send, hold, skip }
        let step = connection.withSubscription(channel) { subscription -> Step in
            switch subscription {
            case .replaying(let held, let bytes, let leaving)?:
                // Typing (no id) is of the moment: held until the replay ends, it would be stale.
                // Nothing is held once the replay is to read the rest from the log.
                guard !leaving, id != nil, var pending = held else { return .skip }
                // Held frames count against the same limits as queued ones: a replay waiting
                // its turn must not gather a busy chat's traffic without bound. Past them they
                // are dropped, all of them, and the replay reads them from the log.
                if pending.count >= queueLimit || bytes + frame.readableBytes > queueBytes {
                    subscription = .replaying(pending: nil, bytes: 0, leaving: false)
                    return .skip
                }
                // Let go of the stored copy first, so the append does not copy the frames.
                subscription = nil
                pending.append((id, frame))
                subscription = .replaying(pending: pending, bytes: bytes + frame.readableBytes, leaving: false)
                return .hold
            case .live(let lastSent)?:
                if let id, let lastSent, id <= lastSent { return .skip }
                return .send
            case nil:
                return .skip
            }
        }
        switch step {
        case .send: outgoing.add(frame, to: connection)
        case .hold, .skip: break
        }
    }

    private func notify(_ logged: LoggedEvent, event: LiveEvent, recipients: [UserID], _ outgoing: inout Outgoing) {
        guard !recipients.isEmpty else { return }
        let frame = LiveConnection.frame(LiveFrame.event(channel: LiveChannel.notificationsName, id: logged.id.description, event: event))
        let targets = state.withLock { state in
            recipients.flatMap { user in (state.notificationSubscribers[user] ?? []).compactMap { state.connections[$0] } }
        }
        for connection in targets { deliver(frame, id: logged.id, on: .notifications, to: connection, &outgoing) }
    }

    /// Only subscriptions made before the member left: one made after it was judged on a
    /// state that held the leave, so the user had joined again. The hub hands events on
    /// after the projections apply them, so a busy hub can still be on its way to that
    /// `member.left` when they subscribe again.
    private func dropSubscriptions(of user: UserID, to chat: ChatID, leftAt: ULID, _ outgoing: inout Outgoing) {
        let affected = state.withLock { state -> [LiveConnection] in
            let ids = (state.chatSubscribers[chat] ?? [:]).filter { id, judgedAt in
                judgedAt < leftAt && state.connections[id]?.user == user
            }.keys
            for id in ids { state.unsubscribe(id, from: .chat(chat), of: user) }
            return ids.compactMap { state.connections[$0] }
        }
        for connection in affected {
            // A replaying subscription ends after its replay or hand-over sends the held
            // `member.left`; a live one here, after the `member.left` just queued.
            let live = connection.withSubscription(.chat(chat)) { subscription -> Bool in
                if case .replaying(let pending, let bytes, _)? = subscription {
                    subscription = .replaying(pending: pending, bytes: bytes, leaving: true)
                    return false
                }
                let wasSubscribed = subscription != nil
                subscription = nil
                return wasSubscribed
            }
            if live { outgoing.add(LiveConnection.frame(LiveFrame.unsubscribed(channel: LiveChannel.chat(chat).description)), to: connection) }
        }
    }

    private func subscribers(of chat: ChatID) -> [LiveConnection] {
        state.withLock { state in (state.chatSubscribers[chat] ?? [:]).keys.compactMap { state.connections[$0] } }
    }

    /// Hands each event loop the frames of all its connections in one task: a batch costs
    /// one hand-over per loop, not one per connection.
    private func send(_ outgoing: Outgoing) {
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, writes: [(LiveConnection, [ByteBuffer])])] = [:]
        for connection in outgoing.connections {
            let frames = outgoing.frames[connection.id] ?? []
            guard connection.reserve(frames) else {
                closeSlow(connection)
                continue
            }
            metrics.deliveries.increment(by: Int64(frames.count))
            let loop = connection.eventLoop
            byLoop[ObjectIdentifier(loop), default: (loop, [])].writes.append((connection, frames))
        }
        for (loop, writes) in byLoop.values {
            loop.execute {
                for (connection, frames) in writes { connection.write(frames) }
            }
        }
    }

    @discardableResult
    private func send(_ frame: String, to connection: LiveConnection) -> Bool {
        send([LiveConnection.frame(frame)], to: connection)
    }

    @discardableResult
    private func send(_ frame: ByteBuffer, to connection: LiveConnection) -> Bool {
        send([frame], to: connection)
    }

    /// Queues frames; a connection whose queue is full is closed instead of slowing others.
    @discardableResult
    private func send(_ frames: [ByteBuffer], to connection: LiveConnection) -> Bool {
        if connection.send(frames) {
            metrics.deliveries.increment(by: Int64(frames.count))
            return true
        }
        closeSlow(connection)
        return false
    }

    /// Bytes of a replay's frames that may wait for the socket at a time: enough to keep a
    /// fast client's socket busy, little beside the queue's bound.
    private var replayWindow: Int { min(256 * 1024, queueBytes / 2) }

    private enum Room { case room, yield, stalled }

    /// Waits until the client has taken what the replay sent (a replay reads the log faster
    /// than most clients read their socket, and what it sent ahead of them would wait in
    /// memory). While it waits, another user's waiting replay goes first (`.yield`): a slow
    /// or stalled reader held the only turn for as long as it took. `.stalled`: what waits
    /// for the client has not dropped below the window for `closeGrace`, over however many
    /// turns.
    private func awaitRoom(_ progress: ReplayProgress, _ connection: LiveConnection) -> Room {
        while !connection.hasRoom(below: replayWindow), !connection.isClosed {
            let now = DispatchTime.now().uptimeNanoseconds
            let since = progress.stalledSince ?? now
            progress.stalledSince = since
            let left = closeGrace.nanoseconds - Int64(now - since)
            if left <= 0 { return .stalled }
            // Others waiting go first; this one waits for its client without a turn.
            if replayGate.othersWait(besides: connection.user) { return .yield }
            if connection.waitForRoom(below: replayWindow, timeout: .nanoseconds(min(left, 250_000_000))) { break }
        }
        progress.stalledSince = nil
        return .room
    }

    private func closeSlow(_ connection: LiveConnection) {
        metrics.slowClientCloses.increment()
        logger.info("closing a slow WebSocket client", metadata: [
            "user": "\(connection.user)", "queue": "\(queueLimit) frames or \(queueBytes) bytes",
            "waiting": "\(connection.waitingBytes) bytes of its own, \(budget.waiting) of \(budget.limit) for all"])
        connection.close(code: 4008, reason: "too slow: outbound queue full; reconnect and resubscribe with since")
    }
}
