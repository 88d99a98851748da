import ChatFlowCore
import ChatFlowStorage

/// Where a replay of missed events has got to, between its turns at the `ReplayGate`.
/// Used by one replay at a time: on the replay queue during its turns, and by the replay's
/// task between them.
final class ReplayProgress: @unchecked Sendable {
    /// Log records read per page; a replay may give up its turn after each.
    static let pageSize = 1024

    /// How a turn of a replay ended.
    enum Turn: Sendable {
        case finished, ended
        /// Another user's replay waits for a turn while more remains: this one goes on after it.
        case yielded
        /// Another user's replay waits while this one's client has yet to take what it was
        /// sent: this one waits for that without a turn, then for a turn.
        case awaitingClient
    }

    /// The notifications channel's read of the range before its first event: who was a
    /// member of which chat before it (see `LiveHub.readAhead`).
    struct ReadAhead {
        var cursor: ULID
        var read = 0
        var before: [ChatID: Bool] = [:]
    }

    let start: ULID
    /// The projections' position when the replay began: the hub brings what follows.
    let end: ULID?
    /// Whether `subscribed` is still to be sent, once the replay knows it can be made.
    var confirming: Bool
    var readAhead: ReadAhead?
    var notifications: NotificationReplayFilter?
    /// A chat's events still to send, from its index; nil on the notifications channel.
    var chatEvents: ArraySlice<ULID>?
    /// The last record read.
    var cursor: ULID?
    var read = 0
    /// Between the user's own leaving and their joining again: they hear only their
    /// return, as they would have live.
    var away = false
    var lastSent: ULID?
    /// Since when (uptime nanoseconds) the client has taken none of what was sent, while the
    /// replay waits for it to.
    var stalledSince: UInt64?

    init(start: ULID, end: ULID?, confirming: Bool) {
        self.start = start
        self.end = end
        self.confirming = confirming
        cursor = start
    }
}
