import Foundation
import HTTPTypes
import Testing

/// A second user tries every route against a private chat it is not in, someone else's
/// message, and a cursor from another chat: all refused, nothing leaked, nothing written.
@Suite(.timeLimit(.minutes(2))) struct AuthorizationTests {
    @Test func anOutsiderCannotSeeOrTouchAPrivateChat() async throws {
        try await TestServer.run { server in
            let secret = try await server.createChat("alice", name: "secret-plans", isPrivate: true)
            let message = try await server.post(secret, as: "alice", "launch codes")
            _ = try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"🔥"}"#)
            let before = server.engine.log.lastPosition

            let attempts: [(HTTPRequest.Method, String, String?)] = [
                (.get, "/chats/\(secret)", nil),
                (.get, "/chats/\(secret)/members", nil),
                (.get, "/chats/\(secret)/messages", nil),
                (.get, "/chats/\(secret)/messages?direction=newer", nil),
                (.get, "/chats/\(secret)/search?query=launch", nil),
                (.post, "/chats/\(secret)/members", "{}"),
                (.post, "/chats/\(secret)/members", #"{"userId":"mallory"}"#),
                (.delete, "/chats/\(secret)/members/alice", nil),
                (.post, "/chats/\(secret)/messages", #"{"content":"hi","messageType":"text"}"#),
                (.post, "/chats/\(secret)/read", #"{"messageId":"\#(message)"}"#),
                (.patch, "/messages/\(message)", #"{"content":"pwned"}"#),
                (.delete, "/messages/\(message)", nil),
                (.post, "/messages/\(message)/reactions", #"{"emoji":"👍"}"#),
                (.delete, "/messages/\(message)/reactions/%F0%9F%94%A5", nil),
                (.get, "/messages/\(message)/reactions", nil),
            ]
            for (method, path, body) in attempts {
                let reply = try await server.call(method, path, as: "mallory", json: body)
                #expect(reply.status == 404, "\(method) \(path) gave \(reply.status)")
                #expect(!reply.text.contains("launch") && !reply.text.contains("secret-plans"), "\(path) leaked: \(reply.text)")
            }
            // Not in the outsider's lists either.
            #expect((try await server.call(.get, "/chats", as: "mallory")["chats"] as? [Any])?.isEmpty == true)
            // Nothing was written.
            #expect(server.engine.log.lastPosition == before)
            let check = try await server.call(.get, "/chats/\(secret)/messages", as: "alice")
            #expect(((check["messages"] as? [[String: Any]])?.first?["content"] as? String) == "launch codes")
        }
    }

    @Test func aCursorFromAnotherChatIsRefused() async throws {
        try await TestServer.run { server in
            let a = try await server.createChat("alice", name: "a")
            let b = try await server.createChat("alice", name: "b")
            for i in 0..<3 { _ = try await server.post(a, as: "alice", "a\(i)") }
            let page = try await server.call(.get, "/chats/\(a)/messages?limit=1", as: "alice")
            let cursor = try #require(page.string("nextCursor"))
            let reply = try await server.call(.get, "/chats/\(b)/messages?cursor=\(cursor)", as: "alice")
            #expect(reply.status == 400)
            #expect(reply.string("detail")?.contains("cursor") == true)
            let search = try await server.call(.get, "/chats/\(a)/search?query=a0", as: "alice")
            #expect(search.status == 200)
        }
    }

    @Test func onlyMembersAddAndOnlyOwnersRemove() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice", isPrivate: true)
            try await server.add("bob", to: chat, by: "alice")
            try await server.add("carol", to: chat, by: "bob")  // members may add
            #expect(try await server.call(.post, "/chats/\(chat)/members", as: "mallory", json: "{}").status == 404)
            #expect(try await server.call(.delete, "/chats/\(chat)/members/carol", as: "bob").status == 403)
            #expect(try await server.call(.delete, "/chats/\(chat)/members/carol", as: "alice").status == 204)
            #expect(try await server.call(.get, "/chats/\(chat)/messages", as: "carol").status == 404)
        }
    }

    /// A public chat stays readable after leaving it or being removed, but what was written
    /// there can no longer be changed by its former author: writes are for members.
    @Test func aFormerMemberCannotEditOrDeleteTheirMessages() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice", name: "town-square")
            try await server.add("bob", to: chat, by: "alice")
            try await server.add("carol", to: chat, by: "alice")
            let fromBob = try await server.post(chat, as: "bob", "bob was here")
            let fromCarol = try await server.post(chat, as: "carol", "carol was here")
            #expect(try await server.call(.delete, "/chats/\(chat)/members/bob", as: "bob").status == 204)  // leaves
            #expect(try await server.call(.delete, "/chats/\(chat)/members/carol", as: "alice").status == 204)  // removed
            let before = server.engine.log.lastPosition
            // Leaving again: the membership is not there, as for removing a non-member.
            let again = try await server.call(.delete, "/chats/\(chat)/members/bob", as: "bob")
            #expect(again.status == 404 && again.string("detail")?.contains("not a member") == true, "\(again.status) \(again.text)")

            for (user, message) in [("bob", fromBob), ("carol", fromCarol)] {
                let edit = try await server.call(.patch, "/messages/\(message)", as: user, json: #"{"content":"rewritten"}"#)
                #expect(edit.status == 403, "\(user) edit gave \(edit.status) \(edit.text)")
                let delete = try await server.call(.delete, "/messages/\(message)", as: user)
                #expect(delete.status == 403, "\(user) delete gave \(delete.status) \(delete.text)")
            }
            #expect(server.engine.log.lastPosition == before)
            let page = try await server.call(.get, "/chats/\(chat)/messages", as: "bob")
            #expect(page.status == 200)
            #expect(Set((page["messages"] as? [[String: Any]] ?? []).compactMap { $0["content"] as? String }) == ["bob was here", "carol was here"])
            // The owner still moderates what former members left behind.
            #expect(try await server.call(.delete, "/messages/\(fromBob)", as: "alice").status == 204)
            // And may leave: the chat goes to the member there longest, who moderates now.
            try await server.join(chat, as: "dave")
            #expect(try await server.call(.delete, "/chats/\(chat)/members/alice", as: "alice").status == 204)
            let members = try await server.call(.get, "/chats/\(chat)/members", as: "dave")
            #expect((members["members"] as? [[String: Any]])?.first { $0["userId"] as? String == "dave" }?["role"] as? String == "owner")
            #expect(try await server.call(.delete, "/messages/\(fromCarol)", as: "dave").status == 204)
        }
    }
    /// The caller's own messages across chats leave out those of a private chat they no
    /// longer belong to, as every other read of that chat is 404: they would show what
    /// happened there since (others' reactions, the owner's deletions). Back in the chat,
    /// they are listed again; a public chat's stay listed after leaving it.
    @Test func ownMessagesInAPrivateChatLeftBehindAreNotListed() async throws {
        try await TestServer.run { server in
            let secret = try await server.createChat("alice", name: "secret", isPrivate: true)
            let open = try await server.createChat("alice", name: "open")
            try await server.add("bob", to: secret, by: "alice")
            try await server.join(open, as: "bob")
            let hidden = try await server.post(secret, as: "bob", "in the private chat")
            let kept = try await server.post(open, as: "bob", "in the public chat")
            func listed() async throws -> [String] {
                let page = try await server.call(.get, "/users/me/messages?limit=10", as: "bob")
                #expect(page.status == 200, "\(page.text)")
                return (page["messages"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            }
            #expect(try await listed() == [kept, hidden])

            #expect(try await server.call(.delete, "/chats/\(secret)/members/bob", as: "alice").status == 204)
            #expect(try await server.call(.delete, "/chats/\(open)/members/bob", as: "bob").status == 204)
            #expect(try await server.call(.post, "/messages/\(hidden)/reactions", as: "alice", json: #"{"emoji":"👎"}"#).status == 201)
            #expect(try await listed() == [kept], "a private chat's messages leave with its membership")
            #expect(try await server.call(.get, "/messages/\(hidden)", as: "bob").status == 404)

            try await server.add("bob", to: secret, by: "alice")
            #expect(try await listed() == [kept, hidden], "and come back with it")
        }
    }
}
