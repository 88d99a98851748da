import ChatFlowCore
import Foundation
import Hummingbird
import HummingbirdWebSocket

/// `GET /ws`: upgrades signed-in clients and runs each connection: one task reads client
/// frames, one writes the connection's queue to the socket, and one closes the socket
/// when the token expires.
struct WebSocketRoute {
    let hub: LiveHub

    /// Why one of a connection's tasks ended.
    private enum Ending {
        case queueEnded, closeSent, clientGone, tokenExpired
    }

    func addRoutes(to router: Router<ChatFlowRequestContext>) {
        router.ws("/ws") { _, context in
            guard context.user != nil else {
                throw ProblemDetail.unauthorized("sign in: send Authorization: Bearer <token> or ?access_token=<token>")
            }
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            guard let user = context.requestContext.user else { return }
            let expiry = context.requestContext.tokenExpiry
            let connection = hub.connect(user: user, channel: context.requestContext.channel)
            defer { hub.disconnect(connection) }
            try await withThrowingTaskGroup(of: Ending.self) { group in
                group.addTask {
                    for await frame in connection.outbox {
                        try await outbound.write(.text(frame))
                    }
                    // The close frame goes after everything queued before it.
                    guard let close = connection.pendingClose else { return .queueEnded }
                    try await outbound.close(.init(codeNumber: Int(close.code)), reason: close.reason)
                    return .closeSent
                }
                group.addTask {
                    for try await message in inbound.messages(maxSize: 64 * 1024) {
                        guard case .text(let text) = message else {
                            _ = connection.send(LiveFrame.error("invalid", "frames are JSON text"))
                            continue
                        }
                        await hub.handle(text, from: connection)
                    }
                    connection.finish()
                    return .clientGone
                }
                if let expiry {
                    group.addTask {
                        let remaining = expiry - Date().timeIntervalSince1970
                        if remaining > 0 { try await Task.sleep(for: .seconds(remaining)) }
                        connection.close(code: 4001, reason: "token expired: reconnect with a new token")
                        return .tokenExpired
                    }
                }
                // The first task to end ends all, except that after a close frame the client
                // gets to answer it (the grace timer drops it if it never does).
                while let ending = try await group.next() {
                    if ending != .closeSent && ending != .tokenExpired { break }
                }
                group.cancelAll()
            }
        }
    }
}
