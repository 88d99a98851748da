import ChatFlowCore
import HTTPTypes
import Hummingbird

/// `/chats` and everything under a chat: members, messages, search, read marker.
struct ChatsController {
    let commands: ChatFlowCommands
    let maxBodyBytes: Int

    var reader: ChatFlowReader { commands.reader }

    func addRoutes(to router: some RouterMethods<ChatFlowRequestContext>) {
        router.post("/chats", use: create)
        router.get("/chats", use: list)
        router.get("/chats/:chatId", use: show)
        router.patch("/chats/:chatId", use: update)
        router.post("/chats/:chatId/members", use: addMember)
        router.delete("/chats/:chatId/members/:userId", use: removeMember)
        router.get("/chats/:chatId/members", use: members)
        router.post("/chats/:chatId/messages", use: post)
        router.get("/chats/:chatId/messages", use: messages)
        router.get("/chats/:chatId/search", use: search)
        router.post("/chats/:chatId/read", use: markRead)
    }

    @Sendable func create(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let body = try await RequestBody.decode(CreateChatBody.self, from: request, limit: maxBodyBytes)
        let (chat, replayed) = try await commands.createChat(
            by: user, name: body.name, description: body.description, isPrivate: body.isPrivate,
            idempotencyKey: request.idempotencyKey)
        var headers = JSONResponse.replayedHeader(replayed)
        headers[.location] = "/chats/\(chat.id)"
        return try JSONResponse.make(chat, status: .created, headers: headers)
    }

    /// The caller's chats, oldest first, 100 to a page unless `limit` says otherwise; with
    /// `scope=public`, the directory of public chats anyone may join.
    @Sendable func list(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        try request.takesOnly("scope", "limit", "cursor")
        switch try request.query("scope") {
        case nil, "mine":
            let page = try reader.chats(of: user, cursor: request.cursor, limit: try request.limit(default: 100))
            return try JSONResponse.make(ListPage("chats", page))
        case "public":
            let page = try reader.publicChats(cursor: request.cursor, limit: try request.limit(default: 50))
            return try JSONResponse.make(ListPage("chats", page))
        case let other?:
            throw ProblemDetail.invalid("scope must be 'mine' (the default) or 'public' (got '\(other)')")
        }
    }

    @Sendable func show(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let (chat, _) = try commands.readable(try context.chatID(), by: user)
        return try JSONResponse.make(chat)
    }

    @Sendable func update(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let body = try await RequestBody.decode(UpdateChatBody.self, from: request, limit: maxBodyBytes)
        let (chat, replayed) = try await commands.updateChat(
            try context.chatID(), by: user, name: body.name, description: body.description, isPrivate: body.isPrivate,
            idempotencyKey: request.idempotencyKey)
        return try JSONResponse.make(chat, headers: JSONResponse.replayedHeader(replayed))
    }

    @Sendable func addMember(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let chat = try context.chatID()
        let body = try await RequestBody.decode(AddMemberBody.self, from: request, limit: maxBodyBytes)
        let (member, replayed): (MemberView, Bool)
        if let target = body.userId, target != user.rawValue {
            (member, replayed) = try await commands.add(try UserID(validating: target), to: chat, by: user, idempotencyKey: request.idempotencyKey)
        } else {
            (member, replayed) = try await commands.join(chat, by: user, idempotencyKey: request.idempotencyKey)
        }
        return try JSONResponse.make(member, headers: JSONResponse.replayedHeader(replayed))
    }

    @Sendable func removeMember(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let target = try context.userID()
        let replayed = try await commands.remove(target, from: try context.chatID(), by: user, idempotencyKey: request.idempotencyKey)
        return JSONResponse.noContent(replayed: replayed)
    }

    @Sendable func members(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let chat = try context.chatID()
        _ = try commands.readable(chat, by: user)
        try request.takesOnly("limit", "cursor")
        let page = try reader.members(of: chat, cursor: request.cursor, limit: try request.limit(default: 50))
        return try JSONResponse.make(ListPage("members", page))
    }

    @Sendable func post(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let body = try await RequestBody.decode(PostMessageBody.self, from: request, limit: maxBodyBytes)
        // Either names the message for retries; both must agree, or a retry sending only one
        // of them would not be known for one.
        let headerKey = try request.idempotencyKey
        if let field = body.clientMessageId, let header = headerKey, field != header {
            throw ProblemDetail.invalid("clientMessageId and the Idempotency-Key header differ; send one of them, or the same key in both")
        }
        let keyName = body.clientMessageId == nil && headerKey != nil ? "Idempotency-Key" : "clientMessageId"
        let (message, replayed) = try await commands.post(
            to: try context.chatID(), by: user, content: body.content, type: body.messageType.value,
            clientMessageID: body.clientMessageId ?? headerKey, keyName: keyName)
        var headers = JSONResponse.replayedHeader(replayed)
        headers[.location] = "/messages/\(message.id)"
        return try JSONResponse.make(message, status: .created, headers: headers)
    }

    @Sendable func messages(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let chat = try context.chatID()
        _ = try commands.readable(chat, by: user)
        try request.takesOnly("limit", "cursor", "direction")
        let directionText = try request.query("direction") ?? "older"
        guard let direction = ChatFlowReader.Direction(rawValue: directionText) else {
            throw ProblemDetail.invalid("direction must be 'older' or 'newer' (got '\(directionText)')")
        }
        let page = try reader.messages(in: chat, cursor: request.cursor, limit: try request.limit(default: 50), direction: direction)
        return try JSONResponse.make(ListPage("messages", page))
    }

    @Sendable func search(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let chat = try context.chatID()
        _ = try commands.readable(chat, by: user)
        try request.takesOnly("query", "limit", "cursor")
        guard let text = try request.formText("query"), !text.isEmpty else {
            throw ProblemDetail.invalid("query is required, e.g. ?query=deploy%20from:alice")
        }
        let query: SearchQuery
        do {
            query = try SearchQuery.parse(text)
        } catch {
            throw ProblemDetail.invalid("query: \(error)")
        }
        let page = try reader.search(in: chat, query: query, cursor: request.cursor, limit: try request.limit(default: 20))
        return try JSONResponse.make(ListPage("messages", page))
    }

    @Sendable func markRead(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let body = try await RequestBody.decode(ReadMarkerBody.self, from: request, limit: maxBodyBytes)
        let replayed = try await commands.markRead(try context.chatID(), upTo: try MessageID(parsing: body.messageId), by: user, idempotencyKey: request.idempotencyKey)
        return JSONResponse.noContent(replayed: replayed)
    }
}
