import ChatFlowCore
import ChatFlowStorage
import NIOCore
import Synchronization

/// One WebSocket client: its user, its bounded outbound queue and its subscriptions.
///
/// Frames are queued, never written inline by the hub, so one slow client cannot hold up
/// delivery to the others; when its queue is full it is closed (code 4008) and reconnects
/// with `since`.
package final class LiveConnection: Sendable {
    enum Subscription: Sendable {
        /// Replaying history: live frames wait here until the replay is done.
        case replaying(pending: [(ULID?, String)])
        /// Live: frames for ids up to `lastSent` were already sent by the replay.
        case live(lastSent: ULID?)
    }

    let id: Int
    let user: UserID
    private let channel: any Channel
    private let closeGrace: TimeAmount
    package let outbox: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation
    private let subscriptions = Mutex<[ChatID: Subscription]>([:])
    private let notificationsOn = Mutex(false)
    private let closed = Mutex(false)
    private let closing = Mutex<(code: UInt16, reason: String)?>(nil)

    init(id: Int, user: UserID, channel: any Channel, queueLimit: Int, closeGrace: TimeAmount) {
        self.id = id
        self.user = user
        self.channel = channel
        self.closeGrace = closeGrace
        (outbox, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingOldest(queueLimit))
    }

    var isClosed: Bool { closed.withLock { $0 } }

    /// Queues a frame; false when the queue is full (the caller closes the connection).
    func send(_ frame: String) -> Bool {
        guard !isClosed else { return true }
        switch continuation.yield(frame) {
        case .enqueued: return true
        case .dropped: return false
        case .terminated: return true
        @unknown default: return false
        }
    }

    /// Ends the queue so that the writer sends `code` after what is already queued;
    /// idempotent.
    ///
    /// The close frame queues behind whatever the socket still holds, so a client that has
    /// stopped reading would never see it and would keep its buffers forever: after
    /// `closeGrace` the connection is dropped without the handshake.
    func close(code: UInt16, reason: String) {
        let first = closed.withLock { wasClosed in
            defer { wasClosed = true }
            return !wasClosed
        }
        guard first else { return }
        closing.withLock { $0 = (code, reason) }
        continuation.finish()
        let channel = channel
        channel.eventLoop.scheduleTask(in: closeGrace) { channel.close(promise: nil) }
    }

    /// The close frame the writer owes the client once the queue is drained, if any.
    var pendingClose: (code: UInt16, reason: String)? { closing.withLock { $0 } }

    /// Ends the queue after the client went away.
    func finish() {
        _ = closed.withLock { $0 = true }
        continuation.finish()
    }

    // MARK: - Subscriptions

    func setSubscription(_ subscription: Subscription?, for chat: ChatID) {
        subscriptions.withLock { $0[chat] = subscription }
    }

    /// Runs `body` on one chat's subscription atomically (the hub's delivery and a replay's
    /// hand-over to live both go through here, so no frame is lost or sent twice).
    func withSubscription<R>(_ chat: ChatID, _ body: (inout Subscription?) -> R) -> R {
        subscriptions.withLock { body(&$0[chat]) }
    }

    var subscribedChats: [ChatID] { subscriptions.withLock { Array($0.keys) } }

    var wantsNotifications: Bool {
        get { notificationsOn.withLock { $0 } }
        set { notificationsOn.withLock { $0 = newValue } }
    }
}
