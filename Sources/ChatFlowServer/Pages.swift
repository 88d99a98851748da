import ChatFlowCore

/// `{messages, nextCursor}` with `nextCursor: null` at the end.
struct MessagesPage: Encodable {
    let messages: [MessageView]
    let nextCursor: String?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(messages, forKey: .messages)
        try c.encode(nextCursor, forKey: .nextCursor)
    }

    enum CodingKeys: String, CodingKey { case messages, nextCursor }
}

/// `{members, nextCursor}` with `nextCursor: null` at the end.
struct MembersPage: Encodable {
    let members: [MemberView]
    let nextCursor: String?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(members, forKey: .members)
        try c.encode(nextCursor, forKey: .nextCursor)
    }

    enum CodingKeys: String, CodingKey { case members, nextCursor }
}

/// `{chats, nextCursor}` with `nextCursor: null` at the end.
struct ChatsPage: Encodable {
    let chats: [ChatView]
    let nextCursor: String?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(chats, forKey: .chats)
        try c.encode(nextCursor, forKey: .nextCursor)
    }

    enum CodingKeys: String, CodingKey { case chats, nextCursor }
}
