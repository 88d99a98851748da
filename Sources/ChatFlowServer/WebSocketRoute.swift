import ChatFlowCore
import Foundation
import Hummingbird
import HummingbirdWebSocket

/// `GET /ws`: upgrades signed-in clients and runs each connection: one task reads client
/// frames, one writes the connection's queue to the socket, and one closes the socket
/// when the token expires.
struct WebSocketRoute {
    let hub: LiveHub

    func addRoutes(to router: Router<ChatFlowRequestContext>) {
        router.ws("/ws") { _, context in
            guard context.user != nil else {
                throw ProblemDetail.unauthorized("sign in: send Authorization: Bearer <token> or ?access_token=<token>")
            }
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            guard let user = context.requestContext.user else { return }
            let expiry = context.requestContext.tokenExpiry
            let connection = hub.connect(user: user, outbound: outbound)
            defer { hub.disconnect(connection) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await frame in connection.outbox {
                        try await outbound.write(.text(frame))
                    }
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
                }
                if let expiry {
                    group.addTask {
                        let remaining = expiry - Date().timeIntervalSince1970
                        if remaining > 0 { try await Task.sleep(for: .seconds(remaining)) }
                        connection.close(code: 4001, reason: "token expired: reconnect with a new token")
                    }
                }
                // The first task to end (client gone, queue closed, token expired) ends all.
                try await group.next()
                group.cancelAll()
            }
        }
    }
}
