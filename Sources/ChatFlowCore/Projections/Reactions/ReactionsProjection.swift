import ChatFlowStorage

/// Per message and emoji: who reacted and how many. A reaction is a set member: adding it
/// twice or removing one that is absent changes nothing, so counts equal the net events.
/// Emoji count in their fully-qualified form (`Validation.reaction`), whatever form an
/// event holds (version 2: version 1 counted each form apart; version 3: an emoji that
/// shows as text without its selector, such as a lone `❤`, is that emoji, no longer a
/// reaction of its own; version 4: no reaction to a message retention removed).
public struct ReactionsProjection: Projection {
    public static let name = "reactions"
    public static let version = 4

    public init() {}

    public func apply(_ event: LoggedEvent, to rows: ProjectionRows) throws {
        switch event.event {
        case .reactionAdded(let added):
            let emoji = Validation.reaction(added.emoji)
            let key = ReactionsKeys.reaction(added.message, emoji, event.actor)
            guard try !rows.contains(key), try !isRemoved(added.message, rows) else { return }
            rows.put(key, KeyWriter.build { $0.uint64(event.timeMilliseconds) })
            let count = ReactionsKeys.count(added.message, emoji)
            rows.setCounter(count, try rows.counter(count) + 1)

        case .reactionRemoved(let removed):
            let emoji = Validation.reaction(removed.emoji)
            let key = ReactionsKeys.reaction(removed.message, emoji, event.actor)
            guard try rows.contains(key) else { return }
            rows.delete(key)
            let count = ReactionsKeys.count(removed.message, emoji)
            rows.setCounter(count, try rows.counter(count) - 1)

        case .chatCreated, .chatUpdated, .memberJoined, .memberLeft, .messagePosted, .messageEdited, .messageDeleted, .readMarkerMoved:
            break
        }
    }
}
