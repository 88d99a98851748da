import ChatFlowStorage

/// Generates a plausible stream of chat events for one producer of a load test or a
/// benchmark: it creates its chats, adds members, then mostly posts messages, with some
/// reactions (added and removed), edits, deletes and read-marker moves, always referring
/// to chats and messages that exist. Deterministic for a given seed.
///
/// The generator needs the ids of events it produced (a chat's id is its creation event's
/// id), so the caller reports each acknowledged id back with `acknowledge(_:)`.
public struct WorkloadGenerator: Sendable {
    public struct Settings: Sendable {
        /// Chats this producer owns.
        public var chats: Int
        /// Members per chat, including the owner.
        public var membersPerChat: Int
        /// Approximate message length in bytes.
        public var contentBytes: Int
        /// A prefix that keeps user names of different producers apart.
        public var userPrefix: String

        public init(chats: Int, membersPerChat: Int = 8, contentBytes: Int = 120, userPrefix: String = "u") {
            self.chats = Swift.max(1, chats)
            self.membersPerChat = Swift.max(1, membersPerChat)
            self.contentBytes = Swift.max(1, contentBytes)
            self.userPrefix = userPrefix
        }
    }

    private struct Chat: Sendable {
        var id: ChatID?
        var members: [UserID]
        var joined = 1
        var recent: [(MessageID, UserID)] = []
        var reactions: [(MessageID, UserID, String)] = []
    }

    private enum Pending: Sendable {
        case chat(Int)
        case message(Int, UserID)
        case reaction(Int, MessageID, UserID, String)
        case other
    }

    private let settings: Settings
    private var random: SplitMix64
    private var chats: [Chat]
    /// Message texts drawn once up front: composing text is the client's cost, and a load
    /// test should spend its CPU on the server's.
    private var contents: [String] = []
    private var pending: Pending = .other
    private var created = 0

    public init(settings: Settings, seed: UInt64) {
        self.settings = settings
        self.random = SplitMix64(seed: seed)
        chats = (0..<settings.chats).map { c in
            Chat(members: (0..<settings.membersPerChat).map { m in
                UserID(unchecked: "\(settings.userPrefix)\(c)-\(m)")
            })
        }
        contents = (0..<256).map { _ in composeContent() }
    }

    /// The next event to append. Call `acknowledge(_:)` with its id before asking again.
    public mutating func next() -> EventEnvelope {
        // First create every chat, one per call, so the rest can refer to them.
        if created < chats.count {
            let index = created
            created += 1
            pending = .chat(index)
            return EventEnvelope(actor: chats[index].members[0], event: .chatCreated(.init(
                name: "chat \(index) \(word())", description: sentence(words: 6), isPrivate: index % 3 == 0)))
        }
        let index = Int(random.next(below: UInt64(chats.count)))
        let chat = chats[index]
        let chatID = chat.id!
        if chat.joined < chat.members.count {
            chats[index].joined += 1
            pending = .other
            return EventEnvelope(actor: chat.members[0], event: .memberJoined(.init(
                chat: chatID, user: chat.members[chat.joined], role: .member)))
        }
        let roll = random.next(below: 100)
        let someone = chat.members[Int(random.next(below: UInt64(chat.members.count)))]
        if roll < 8, let (message, _) = chat.recent.randomElement(using: &random) {
            let emoji = Vocabulary.emoji[Int(random.next(below: UInt64(Vocabulary.emoji.count)))]
            pending = .reaction(index, message, someone, emoji)
            return EventEnvelope(actor: someone, event: .reactionAdded(.init(chat: chatID, message: message, emoji: emoji)))
        }
        if roll < 11, !chat.reactions.isEmpty {
            let (message, user, emoji) = chats[index].reactions.removeFirst()
            pending = .other
            return EventEnvelope(actor: user, event: .reactionRemoved(.init(chat: chatID, message: message, emoji: emoji)))
        }
        if roll < 15, let (message, author) = chat.recent.randomElement(using: &random) {
            pending = .other
            return EventEnvelope(actor: author, event: .messageEdited(.init(chat: chatID, message: message, content: content())))
        }
        if roll < 17, !chat.recent.isEmpty {
            let (message, author) = chats[index].recent.removeFirst()
            chats[index].reactions.removeAll { $0.0 == message }
            pending = .other
            return EventEnvelope(actor: author, event: .messageDeleted(.init(chat: chatID, message: message)))
        }
        if roll < 20, let (message, _) = chat.recent.last {
            pending = .other
            return EventEnvelope(actor: someone, event: .readMarkerMoved(.init(chat: chatID, message: message)))
        }
        pending = .message(index, someone)
        return EventEnvelope(actor: someone, event: .messagePosted(.init(chat: chatID, content: content(), type: .text)))
    }

    /// Records the log id that the last event from `next()` was given.
    public mutating func acknowledge(_ id: ULID) {
        switch pending {
        case .chat(let index):
            chats[index].id = ChatID(id)
        case .message(let index, let author):
            chats[index].recent.append((MessageID(id), author))
            if chats[index].recent.count > 32 { chats[index].recent.removeFirst() }
        case .reaction(let index, let message, let user, let emoji):
            chats[index].reactions.append((message, user, emoji))
            if chats[index].reactions.count > 32 { chats[index].reactions.removeFirst() }
        case .other:
            break
        }
        pending = .other
    }

    // MARK: - Text

    private mutating func word() -> String {
        // One word in twenty comes from the rare list; the common list is skewed towards its head.
        if random.next(below: 20) == 0 {
            return Vocabulary.rare[Int(random.next(below: UInt64(Vocabulary.rare.count)))]
        }
        let a = random.next(below: UInt64(Vocabulary.common.count))
        let b = random.next(below: UInt64(Vocabulary.common.count))
        return Vocabulary.common[Int(Swift.min(a, b))]
    }

    private mutating func sentence(words: Int) -> String {
        (0..<words).map { _ in word() }.joined(separator: " ")
    }

    private mutating func content() -> String {
        contents[Int(random.next(below: UInt64(contents.count)))]
    }

    private mutating func composeContent() -> String {
        var text = word()
        while text.utf8.count < settings.contentBytes {
            text += " "
            text += word()
        }
        return text
    }
}
