/// Chats, their members and roles, each user's chats, and the directory of public chats.
public struct ChatsProjection: Projection {
    public static let name = "chats"
    /// 3: the first to join a chat everyone has left becomes its owner.
    public static let version = 3

    public init() {}

    public func apply(_ event: LoggedEvent, to rows: ProjectionRows) throws {
        switch event.event {
        case .chatCreated(let created):
            let chat = ChatID(event.id)
            rows.put(ChatsKeys.chat(chat), ChatRecord(
                name: created.name, description: created.description, isPrivate: created.isPrivate,
                createdBy: event.actor, memberCount: 1).encoded())
            rows.put(ChatsKeys.member(chat, event.actor), MemberRecord(role: .owner, joinedAt: event.timeMilliseconds).encoded())
            rows.put(ChatsKeys.userChat(event.actor, chat))
            if !created.isPrivate { rows.put(ChatsKeys.publicChat(chat)) }

        case .chatUpdated(let update):
            guard var record = try rows.get(ChatsKeys.chat(update.chat)).map(ChatRecord.init(decoding:)) else { return }
            if let name = update.name { record.name = name }
            if let description = update.description { record.description = description }
            if let isPrivate = update.isPrivate {
                record.isPrivate = isPrivate
                if isPrivate { rows.delete(ChatsKeys.publicChat(update.chat)) } else { rows.put(ChatsKeys.publicChat(update.chat)) }
            }
            rows.put(ChatsKeys.chat(update.chat), record.encoded())

        case .memberJoined(let joined):
            guard var record = try rows.get(ChatsKeys.chat(joined.chat)).map(ChatRecord.init(decoding:)),
                  try !rows.contains(ChatsKeys.member(joined.chat, joined.user)) else { return }
            // Everyone has left: the first to join again takes the chat over, so a chat with
            // members always has an owner.
            // (A join that raced another into the empty chat and lost is a member.)
            let role = record.memberCount == 0 ? MemberRole.owner : joined.role == .owner ? .member : joined.role
            record.memberCount += 1
            rows.put(ChatsKeys.chat(joined.chat), record.encoded())
            rows.put(ChatsKeys.member(joined.chat, joined.user), MemberRecord(role: role, joinedAt: event.timeMilliseconds).encoded())
            rows.put(ChatsKeys.userChat(joined.user, joined.chat))

        case .memberLeft(let left):
            guard var record = try rows.get(ChatsKeys.chat(left.chat)).map(ChatRecord.init(decoding:)),
                  let leaving = try rows.get(ChatsKeys.member(left.chat, left.user)).map(MemberRecord.init(decoding:)) else { return }
            record.memberCount -= 1
            rows.put(ChatsKeys.chat(left.chat), record.encoded())
            rows.delete(ChatsKeys.member(left.chat, left.user))
            rows.delete(ChatsKeys.userChat(left.user, left.chat))
            if leaving.role == .owner { try handOver(left.chat, from: left.user, rows) }

        case .messagePosted, .messageEdited, .messageDeleted, .reactionAdded, .reactionRemoved, .readMarkerMoved:
            break
        }
    }

    /// An owner who leaves hands the chat to the member who has been in it longest (the
    /// earliest join; the lower user id on a tie), so a chat with members always has an
    /// owner. Decided from the rows alone, so a rebuild decides the same.
    private func handOver(_ chat: ChatID, from owner: UserID, _ rows: ProjectionRows) throws {
        var successor: (user: UserID, record: MemberRecord)?
        try rows.scan(prefix: ChatsKeys.membersPrefix(chat)) { key, value in
            guard let user = ChatsKeys.decodeMember(key), user != owner else { return true }
            let record = try MemberRecord(decoding: value)
            if let current = successor, (current.record.joinedAt, current.user.rawValue) <= (record.joinedAt, user.rawValue) { return true }
            successor = (user, record)
            return true
        }
        guard let (user, member) = successor else { return }
        var record = member
        record.role = .owner
        rows.put(ChatsKeys.member(chat, user), record.encoded())
    }
}
