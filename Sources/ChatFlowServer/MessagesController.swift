import ChatFlowCore
import Hummingbird

/// `/messages/{messageId}`: edit, delete, reactions; and `/users/me/messages`.
struct MessagesController {
    let commands: ChatFlowCommands
    let maxBodyBytes: Int

    func addRoutes(to router: some RouterMethods<ChatFlowRequestContext>) {
        router.get("/messages/:messageId", use: message)
        router.patch("/messages/:messageId", use: edit)
        router.delete("/messages/:messageId", use: delete)
        router.post("/messages/:messageId/reactions", use: react)
        router.delete("/messages/:messageId/reactions/:emoji", use: unreact)
        router.get("/messages/:messageId/reactions", use: reactions)
        router.get("/users/me/messages", use: mine)
    }

    /// One message, as its chat's history shows it (where a new message's `Location` points).
    @Sendable func message(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let message = try context.messageID()
        _ = try commands.visibleMessage(message, by: user)
        guard let view = try commands.reader.message(message) else { throw ChatFlowError.notFound("message \(message) not found") }
        return try JSONResponse.make(view)
    }

    @Sendable func edit(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let body = try await RequestBody.decode(EditMessageBody.self, from: request, limit: maxBodyBytes)
        let (message, replayed) = try await commands.edit(try context.messageID(), by: user, content: body.content, idempotencyKey: request.idempotencyKey)
        return try JSONResponse.make(message, headers: JSONResponse.replayedHeader(replayed))
    }

    @Sendable func delete(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let replayed = try await commands.delete(try context.messageID(), by: user, idempotencyKey: request.idempotencyKey)
        return JSONResponse.noContent(replayed: replayed)
    }

    @Sendable func react(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let body = try await RequestBody.decode(ReactionBody.self, from: request, limit: maxBodyBytes)
        let (reaction, replayed) = try await commands.react(to: try context.messageID(), with: body.emoji, by: user, idempotencyKey: request.idempotencyKey)
        return try JSONResponse.make(reaction, status: .created, headers: JSONResponse.replayedHeader(replayed))
    }

    @Sendable func unreact(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let emoji: String
        do {
            emoji = try context.pathSegment("emoji")
        } catch is ProblemDetail {
            throw ProblemDetail.invalid("the emoji in the path must be percent-encoded UTF-8, such as %F0%9F%91%8D for 👍")
        }
        let replayed = try await commands.unreact(to: try context.messageID(), with: emoji, by: user, idempotencyKey: request.idempotencyKey)
        return JSONResponse.noContent(replayed: replayed)
    }

    @Sendable func reactions(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let message = try context.messageID()
        // A deleted message shows no reactions, as its tombstone in the timeline shows none.
        if try commands.visibleMessage(message, by: user).deleted { return try JSONResponse.make([ReactionSummaryView]()) }
        return try JSONResponse.make(try commands.reader.reactions(message, viewer: user))
    }

    @Sendable func mine(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        let user = try context.requireUser()
        try request.takesOnly("limit", "cursor")
        let page = try commands.reader.messages(by: user, cursor: request.cursor, limit: try request.limit(default: 50))
        return try JSONResponse.make(ListPage("messages", page))
    }
}
