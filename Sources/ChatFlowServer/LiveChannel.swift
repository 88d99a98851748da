import ChatFlowCore

/// A channel a WebSocket subscribes to: one chat's events, or the user's notifications.
enum LiveChannel: Hashable, Sendable, CustomStringConvertible {
    case chat(ChatID)
    case notifications

    static let notificationsName = "users/me/notifications"

    /// The channel a client names, or nil for a name that is none (chat ids parse case-blind).
    init?(name: String) {
        if name == Self.notificationsName {
            self = .notifications
        } else if name.hasPrefix("chats/"), let chat = try? ChatID(parsing: String(name.dropFirst(6))) {
            self = .chat(chat)
        } else {
            return nil
        }
    }

    /// The name every frame of the channel carries: one spelling, whatever the client sent.
    var description: String {
        switch self {
        case .chat(let chat): "chats/\(chat)"
        case .notifications: Self.notificationsName
        }
    }
}
