// The payload of each `ChangeEvent` case. Field order here is the field order in the
// encoded event (see `EventCodec`); adding a field means a new format version.

extension ChangeEvent {
    public struct ChatCreated: Equatable, Sendable {
        public var name: String
        public var description: String
        public var isPrivate: Bool

        public init(name: String, description: String, isPrivate: Bool) {
            self.name = name
            self.description = description
            self.isPrivate = isPrivate
        }
    }

    /// Only the fields that changed are present.
    public struct ChatUpdated: Equatable, Sendable {
        public var chat: ChatID
        public var name: String?
        public var description: String?
        public var isPrivate: Bool?

        public init(chat: ChatID, name: String? = nil, description: String? = nil, isPrivate: Bool? = nil) {
            self.chat = chat
            self.name = name
            self.description = description
            self.isPrivate = isPrivate
        }
    }

    public struct MemberJoined: Equatable, Sendable {
        public var chat: ChatID
        public var user: UserID
        public var role: MemberRole

        public init(chat: ChatID, user: UserID, role: MemberRole) {
            self.chat = chat
            self.user = user
            self.role = role
        }
    }

    public struct MemberLeft: Equatable, Sendable {
        public var chat: ChatID
        public var user: UserID

        public init(chat: ChatID, user: UserID) {
            self.chat = chat
            self.user = user
        }
    }

    public struct MessagePosted: Equatable, Sendable {
        public var chat: ChatID
        public var content: String
        public var type: MessageType
        /// The client's own key for the message, used to deduplicate retries.
        public var clientMessageID: String?

        public init(chat: ChatID, content: String, type: MessageType, clientMessageID: String? = nil) {
            self.chat = chat
            self.content = content
            self.type = type
            self.clientMessageID = clientMessageID
        }
    }

    public struct MessageEdited: Equatable, Sendable {
        public var chat: ChatID
        public var message: MessageID
        public var content: String

        public init(chat: ChatID, message: MessageID, content: String) {
            self.chat = chat
            self.message = message
            self.content = content
        }
    }

    public struct MessageDeleted: Equatable, Sendable {
        public var chat: ChatID
        public var message: MessageID

        public init(chat: ChatID, message: MessageID) {
            self.chat = chat
            self.message = message
        }
    }

    public struct ReactionAdded: Equatable, Sendable {
        public var chat: ChatID
        public var message: MessageID
        public var emoji: String

        public init(chat: ChatID, message: MessageID, emoji: String) {
            self.chat = chat
            self.message = message
            self.emoji = emoji
        }
    }

    public struct ReactionRemoved: Equatable, Sendable {
        public var chat: ChatID
        public var message: MessageID
        public var emoji: String

        public init(chat: ChatID, message: MessageID, emoji: String) {
            self.chat = chat
            self.message = message
            self.emoji = emoji
        }
    }

    /// The actor has read everything up to and including `message`.
    public struct ReadMarkerMoved: Equatable, Sendable {
        public var chat: ChatID
        public var message: MessageID

        public init(chat: ChatID, message: MessageID) {
            self.chat = chat
            self.message = message
        }
    }
}
