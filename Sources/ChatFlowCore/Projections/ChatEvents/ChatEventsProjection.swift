import ChatFlowStorage

/// The ids of each chat's events, in log order: what a WebSocket client resubscribing to a
/// chat with `since` missed, found without reading the rest of the log. A replay's length
/// and its limit are then the chat's own events, however busy other chats were.
///
/// Chat creation (told only on its creator's notifications channel) and read markers
/// (private to their user, and frequent) are not delivered on a chat's channel, so they
/// are not listed.
public struct ChatEventsProjection: Projection {
    public static let name = "chat_events"
    public static let version = 1

    public init() {}

    public func apply(_ event: LoggedEvent, to rows: ProjectionRows) throws {
        switch event.event {
        case .chatCreated, .readMarkerMoved:
            break
        case .chatUpdated, .memberJoined, .memberLeft, .messagePosted, .messageEdited, .messageDeleted, .reactionAdded, .reactionRemoved:
            guard let chat = event.event.chat else { return }
            rows.put(ChatEventsKeys.event(chat, event.id))
        }
    }
}
