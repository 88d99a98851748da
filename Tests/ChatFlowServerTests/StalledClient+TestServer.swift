import ChatFlowTestSupport

extension StalledClient {
    /// Connects to `server` as `user`, subscribed to `chat`.
    static func connect(_ server: TestServer, as user: String, subscribingTo chat: String) async throws -> StalledClient {
        let client = try await connect(
            port: server.port, token: try await server.token(user),
            frames: [#"{"op":"subscribe","channel":"chats/\#(chat)"}"#])
        try await client.waitForText(containing: "subscribed")
        return client
    }
}
