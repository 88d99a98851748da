@testable import ChatFlowServer
import ChatFlowCore
import ChatFlowStorage
import ChatFlowTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import Testing

/// Each route's success path and its error classes, against a live server.
@Suite(.timeLimit(.minutes(2))) struct RouteTests {
    /// Search text arrives as forms and `URLSearchParams` encode it: `+` is a space, and so
    /// is `%20`; a broken percent-escape is refused.
    @Test func searchTextIsFormDecoded() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            _ = try await server.post(chat, as: "alice", "deploy the hotfix")
            _ = try await server.post(chat, as: "alice", "deploy later")
            func contents(_ query: String) async throws -> [String] {
                let reply = try await server.call(.get, "/chats/\(chat)/search?query=\(query)", as: "alice")
                #expect(reply.status == 200, "\(query): \(reply.status) \(reply.text)")
                return (reply["messages"] as? [[String: Any]])?.compactMap { $0["content"] as? String } ?? []
            }
            #expect(try await contents("deploy+hotfix") == ["deploy the hotfix"])
            #expect(try await contents("deploy%20hotfix") == ["deploy the hotfix"])
            let broken = try await server.call(.get, "/chats/\(chat)/search?query=deploy%2", as: "alice")
            #expect(broken.status == 400 && broken.string("detail")?.contains("percent-encoded") == true, "\(broken.text)")
        }
    }

    /// Form decoding itself: `%2B` is a plus where `+` is a space, `=` may appear in a
    /// value, and a bad escape, one that is not UTF-8, or a name given twice is refused.
    @Test func formTextDecodesAsFormsEncode() throws {
        #expect(try Request.formText("query", inQuery: "query=c%2B%2B+rocks") == "c++ rocks")
        #expect(try Request.formText("query", inQuery: "limit=5&query=a%3Db=c") == "a=b=c")
        #expect(throws: (any Error).self) { try Request.formText("query", inQuery: "limit=5&query=a%3Db=c&query=second") }
        #expect(try Request.formText("query", inQuery: "query") == "")
        #expect(try Request.formText("query", inQuery: "queryx=1&q=2") == nil)
        #expect(throws: (any Error).self) { try Request.formText("query", inQuery: "query=100%") }
        #expect(throws: (any Error).self) { try Request.formText("query", inQuery: "query=%FF") }
    }

    /// A chat with nothing in it yet is listed with every field, absent ones as `null`.
    @Test func aNewChatIsListedWithNullsForWhatItLacks() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice", name: "empty")
            let listed = try await server.call(.get, "/chats", as: "alice")
            let summary = try #require((listed["chats"] as? [[String: Any]])?.first)
            #expect(summary["id"] as? String == chat)
            #expect(summary["lastMessage"] is NSNull, "\(listed.text)")
            #expect(summary["lastReadMessageId"] is NSNull, "\(listed.text)")
            #expect(summary["unreadCount"] as? Int == 0)
        }
    }

    /// One's own chats come a page at a time, oldest first, each once, until a null cursor;
    /// chats left on the way are not listed.
    @Test func theCallersChatsArePaged() async throws {
        try await TestServer.run { server in
            var created: [String] = []
            for index in 0..<5 { created.append(try await server.createChat("alice", name: "chat \(index)")) }
            let other = try await server.createChat("bob", name: "not alice's")
            try await server.join(other, as: "alice")
            try await server.join(created[0], as: "bob")
            #expect(try await server.call(.delete, "/chats/\(created[0])/members/bob", as: "bob").status == 204)

            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await server.call(.get, "/chats?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), as: "alice")
                #expect(page.status == 200, "\(page.text)")
                seen += (page["chats"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                cursor = page.string("nextCursor")
                pages += 1
            } while cursor != nil && pages < 10
            #expect(seen == created + [other])
            #expect(pages == 3)
            let everything = try await server.call(.get, "/chats", as: "alice")
            #expect((everything["chats"] as? [Any])?.count == 6 && everything["nextCursor"] is NSNull)
            let bobs = try await server.call(.get, "/chats", as: "bob")
            #expect((bobs["chats"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [other])
            #expect(try await server.call(.get, "/chats?limit=0", as: "alice").status == 400)
            #expect(try await server.call(.get, "/chats?cursor=garbage", as: "alice").status == 400)
        }
    }

    /// The owner renames a chat and makes it private: members see the change (live too),
    /// the directory drops it; anyone else is refused and nothing is written.
    @Test func theOwnerChangesAChat() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice", name: "draft")
            try await server.join(chat, as: "bob")
            let bob = try await LiveClient.connect(server, as: "bob")
            try await bob.subscribe("chats/\(chat)")

            let before = server.engine.log.lastPosition
            #expect(try await server.call(.patch, "/chats/\(chat)", as: "bob", json: #"{"name":"mine now"}"#).status == 403)
            #expect(try await server.call(.patch, "/chats/\(chat)", as: "mallory", json: #"{"name":"mine now"}"#).status == 403)
            #expect(try await server.call(.patch, "/chats/\(chat)", as: "alice", json: "{}").status == 400)
            #expect(try await server.call(.patch, "/chats/\(chat)", as: "alice", json: #"{"name":""}"#).status == 400)
            #expect(try await server.call(.patch, "/chats/\(chat)", as: "alice", json: #"{"name":"draft"}"#).status == 200)  // no change
            #expect(server.engine.log.lastPosition == before, "refused or empty changes append nothing")

            let changed = try await server.call(.patch, "/chats/\(chat)", as: "alice", json: #"{"name":"launch","isPrivate":true}"#)
            #expect(changed.status == 200, "\(changed.text)")
            #expect(changed.string("name") == "launch" && changed["isPrivate"] as? Bool == true && changed.string("description") == "")
            #expect(try await server.call(.get, "/chats/\(chat)", as: "bob").string("name") == "launch")
            #expect(try await server.call(.get, "/chats/\(chat)", as: "mallory").status == 404, "now private")
            let directory = try await server.call(.get, "/chats?scope=public", as: "mallory")
            #expect((directory["chats"] as? [Any])?.isEmpty == true)
            #expect(await bob.wait { _ in
                bob.events(on: "chats/\(chat)").contains { ($0["event"] as? [String: Any])?["kind"] as? String == "chat.updated" }
            })
            await bob.close()
        }
    }

    @Test func theDirectoryOfPublicChatsIsPagedAndHidesPrivateOnes() async throws {
        try await TestServer.run { server in
            let first = try await server.createChat("alice", name: "town square")
            _ = try await server.call(.post, "/chats", as: "alice", json: #"{"name":"back office","isPrivate":true}"#)
            let second = try await server.createChat("bob", name: "random")
            let page = try await server.call(.get, "/chats?scope=public&limit=1", as: "carol")
            #expect(page.status == 200)
            #expect((page["chats"] as? [[String: Any]])?.map { $0["id"] as? String } == [second])
            let cursor = try #require(page.string("nextCursor"))
            let rest = try await server.call(.get, "/chats?scope=public&limit=1&cursor=\(cursor)", as: "carol")
            #expect((rest["chats"] as? [[String: Any]])?.map { $0["id"] as? String } == [first])
            // carol is in none of them: her own list stays empty.
            let mine = try await server.call(.get, "/chats", as: "carol")
            #expect((mine["chats"] as? [Any])?.isEmpty == true)
            let bad = try await server.call(.get, "/chats?scope=everything", as: "carol")
            #expect(bad.status == 400)
        }
    }

    @Test func chatsMembersAndMessagesHappyPath() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice", name: "general")
            let shown = try await server.call(.get, "/chats/\(chat)", as: "alice")
            #expect(shown.status == 200)
            #expect(shown.string("name") == "general" && shown["memberCount"] as? Int == 1 && shown.string("createdBy") == "alice")

            try await server.join(chat, as: "bob")
            let members = try await server.call(.get, "/chats/\(chat)/members?limit=1", as: "bob")
            #expect(members.status == 200)
            #expect((members["members"] as? [[String: Any]])?.first?["userId"] as? String == "alice")
            let cursor = try #require(members.string("nextCursor"))
            let rest = try await server.call(.get, "/chats/\(chat)/members?limit=1&cursor=\(cursor)", as: "bob")
            #expect((rest["members"] as? [[String: Any]])?.first?["userId"] as? String == "bob")
            // Members and chats are listed by id, not time: a time cursor is refused as such.
            for list in ["/chats/\(chat)/members", "/chats"] {
                let timed = try await server.call(.get, "\(list)?cursor=2026-01-01T00:00:00Z", as: "bob")
                #expect(timed.status == 400 && timed.string("detail")?.contains("not ordered by time") == true, "\(list): \(timed.text)")
            }

            let posted = try await server.call(.post, "/chats/\(chat)/messages", as: "bob", json: #"{"content":"  hello café  ","messageType":"text"}"#)
            #expect(posted.status == 201)
            #expect(posted.string("content") == "hello café" && posted.string("userId") == "bob")
            #expect(posted.object.keys.contains("editedAt") && posted["deleted"] as? Bool == false)
            let message = try #require(posted.string("id"))

            // Read-your-writes: the message is in the timeline as soon as the post returns.
            let page = try await server.call(.get, "/chats/\(chat)/messages", as: "alice")
            #expect((page["messages"] as? [[String: Any]])?.map { $0["id"] as? String } == [message])
            #expect(page.object.keys.contains("nextCursor"))

            let edited = try await server.call(.patch, "/messages/\(message)", as: "bob", json: #"{"content":"hello world"}"#)
            #expect(edited.status == 200 && edited.string("content") == "hello world" && edited.string("editedAt") != nil)

            let reacted = try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"👍"}"#)
            #expect(reacted.status == 201 && reacted.string("emoji") == "👍")
            let again = try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"👍"}"#)
            #expect(again.status == 201)
            let reactions = try await server.call(.get, "/messages/\(message)/reactions", as: "alice")
            #expect(reactions.array.first?["count"] as? Int == 1 && reactions.array.first?["reactedByMe"] as? Bool == true)
            let bobView = try await server.call(.get, "/messages/\(message)/reactions", as: "bob")
            #expect(bobView.array.first?["reactedByMe"] as? Bool == false)
            let withCounts = try await server.call(.get, "/chats/\(chat)/messages", as: "alice")
            #expect(((withCounts["messages"] as? [[String: Any]])?.first?["reactions"] as? [String: Int]) == ["👍": 1])
            let unreacted = try await server.call(.delete, "/messages/\(message)/reactions/\("👍".addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)!)", as: "alice")
            #expect(unreacted.status == 204)
            #expect(try await server.call(.get, "/messages/\(message)/reactions", as: "alice").array.isEmpty)

            let found = try await server.call(.get, "/chats/\(chat)/search?query=WORLD", as: "alice")
            #expect(found.status == 200 && (found["messages"] as? [[String: Any]])?.count == 1)

            let chats = try await server.call(.get, "/chats", as: "alice")
            let summary = try #require((chats["chats"] as? [[String: Any]])?.first)
            #expect(summary["unreadCount"] as? Int == 1)
            #expect((summary["lastMessage"] as? [String: Any])?["id"] as? String == message)
            #expect(try await server.call(.post, "/chats/\(chat)/read", as: "alice", json: #"{"messageId":"\#(message)"}"#).status == 204)
            let afterRead = try await server.call(.get, "/chats", as: "alice")
            #expect((afterRead["chats"] as? [[String: Any]])?.first?["unreadCount"] as? Int == 0)

            let mine = try await server.call(.get, "/users/me/messages", as: "bob")
            #expect((mine["messages"] as? [[String: Any]])?.count == 1)

            #expect(try await server.call(.post, "/messages/\(message)/reactions", as: "bob", json: #"{"emoji":"🎉"}"#).status == 201)
            #expect(try await server.call(.delete, "/messages/\(message)", as: "alice").status == 204)  // the owner may
            let reactionsAfterDelete = try await server.call(.get, "/messages/\(message)/reactions", as: "bob")
            #expect(reactionsAfterDelete.status == 200 && reactionsAfterDelete.array.isEmpty, "\(reactionsAfterDelete.text)")
            let tombstone = try await server.call(.get, "/chats/\(chat)/messages", as: "bob")
            let gone = try #require((tombstone["messages"] as? [[String: Any]])?.first)
            #expect(gone["deleted"] as? Bool == true && gone["content"] as? String == "")
            let searchAfterDelete = try await server.call(.get, "/chats/\(chat)/search?query=world", as: "alice")
            #expect((searchAfterDelete["messages"] as? [Any])?.isEmpty == true)

            #expect(try await server.call(.delete, "/chats/\(chat)/members/bob", as: "bob").status == 204)
            #expect(try await server.call(.get, "/chats/\(chat)", as: "alice")["memberCount"] as? Int == 1)
        }
    }

    @Test func badInputIs400AndNamesTheField() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            let cases: [(String, String, String)] = [
                ("/chats", #"{"name":"","isPrivate":false}"#, "name"),
                ("/chats", #"{"name":"x","isPrivate":"yes"}"#, "isPrivate"),
                ("/chats", #"{"isPrivate":false}"#, "name"),
                ("/chats", #"{"name":"x""#, "JSON"),
                ("/chats/\(chat)/messages", #"{"content":"hi","messageType":"video"}"#, "messageType"),
                ("/chats/\(chat)/messages", #"{"content":"   ","messageType":"text"}"#, "content"),
                ("/chats/\(chat)/messages", #"{"content":"\#(String(repeating: "a", count: 4001))","messageType":"text"}"#, "content"),
                // A field given twice, which parsers read differently: refused, not first-wins.
                ("/chats/\(chat)/messages", #"{"content":"hi","messageType":"text","content":"bye"}"#, "'content' is given more than once"),
                ("/chats/\(chat)/messages", #"{"content":"hi","messageType":"text","\u0063ontent":"bye"}"#, "'content' is given more than once"),
                ("/chats", #"{"name":"x","isPrivate":false,"extra":{"k":1,"k":2}}"#, "'k' is given more than once"),
                // Named even when its first value has the wrong type.
                ("/chats/\(chat)/messages", #"{"content":1,"content":"a","messageType":"text"}"#, "'content' is given more than once"),
                // Invalid JSON in a field the request does not use is still invalid.
                ("/chats", #"{"name":"x","isPrivate":false,"extra":{"\ud800":1,"\ud800":2}}"#, "not valid JSON"),
                ("/chats", #"{"name":"x","isPrivate":false,"extra":"\ud800"}"#, "not valid JSON"),
                ("/chats", #"{"name":"x","isPrivate":false,"extra":01}"#, "not valid JSON"),
                // Foundation's parser takes a trailing comma; JSON's grammar does not.
                ("/chats", #"{"name":"x","isPrivate":false,}"#, "a comma before a closing bracket"),
                ("/chats/\(chat)/messages", #"{"content":"hi","messageType":"text","tags":[1,]}"#, "a comma before a closing bracket"),
                // UTF-8 that JSONSerialization would take for UTF-16: it once crashed the scan.
                ("/chats", "[\u{0}\"\u{0}\u{0}\"}\u{0}}\u{0}\"\u{0}]\u{0}", "UTF-8"),
            ]
            for (path, body, field) in cases {
                let reply = try await server.call(.post, path, as: "alice", json: body)
                #expect(reply.status == 400, "\(path) \(body.prefix(60))")
                #expect(reply.headers[.contentType] == "application/problem+json")
                #expect(reply.string("detail")?.contains(field) == true, "detail should name \(field): \(reply.text)")
                #expect(reply["status"] as? Int == 400 && reply.string("type") != nil && reply.string("title") != nil)
            }
            let badEmoji = try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"x","messageType":"text"}"#)
            let message = try #require(badEmoji.string("id"))
            #expect(try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"ab"}"#).status == 400)
            for emoji in ["%00", "ab", "%FF", "", "%F0"] {
                let removed = try await server.call(.delete, "/messages/\(message)/reactions/\(emoji)", as: "alice")
                // No emoji leaves the path of the reactions themselves, which take no DELETE.
                #expect(removed.status == (emoji.isEmpty ? 405 : 400), "\(emoji): \(removed.status) \(removed.text)")
                if emoji.hasPrefix("%F") {
                    #expect(removed.string("detail")?.contains("percent-encoded UTF-8") == true, "\(removed.text)")
                }
            }
            // A repeated name is quoted short, however many combining marks it carries.
            let long = "e" + String(repeating: "\u{301}", count: 5_000)
            let twice = try await server.call(.post, "/chats", as: "alice", json: #"{"name":"x","isPrivate":false,"\#(long)":1,"\#(long)":2}"#)
            #expect(twice.status == 400 && twice.text.utf8.count < 1_000, "\(twice.status), \(twice.text.utf8.count) bytes")
            #expect(try await server.call(.get, "/healthz", as: nil).status == 200, "the server is still up")
            for body in ["null", "[]", "42"] {
                let notAnObject = try await server.call(.post, "/chats", as: "alice", json: body)
                #expect(notAnObject.status == 400 && notAnObject.string("detail") == "the body must be a JSON object", "\(body): \(notAnObject.text)")
            }
            #expect(try await server.call(.get, "/chats/\(chat)/messages?limit=0", as: "alice").status == 400)
            #expect(try await server.call(.get, "/chats/\(chat)/messages?limit=101", as: "alice").status == 400)
            #expect(try await server.call(.get, "/chats/\(chat)/messages?limit=+5", as: "alice").status == 400)
            let limitTwice = try await server.call(.get, "/chats/\(chat)/messages?limit=5&limit=6", as: "alice")
            #expect(limitTwice.status == 400 && limitTwice.string("detail")?.contains("'limit' is given 2 times") == true, "\(limitTwice.text)")
            #expect(try await server.call(.get, "/chats/\(chat)/messages?cursor=a&cursor=b", as: "alice").status == 400)
            // A name with an escape is refused, not ignored: a proxy that decodes it sees a limit.
            for query in ["lim%69t=3", "limit=3&lim%69t=7", "x%3D=1"] {
                let escaped = try await server.call(.get, "/chats/\(chat)/messages?\(query)", as: "alice")
                #expect(escaped.status == 400 && escaped.string("detail") == "query parameter names are written without percent-escapes", "\(query): \(escaped.text)")
            }
            #expect(try await server.call(.get, "/chats/\(chat)/messages?limit=3&cursor=2026-01-01T00%3A00%3A00Z", as: "alice").status == 200)
            #expect(try await server.call(.get, "/chats/\(chat)/messages?direction=sideways", as: "alice").status == 400)
            #expect(try await server.call(.get, "/chats/\(chat)/messages?cursor=garbage", as: "alice").status == 400)
            // Ids in the path are read with their percent-escapes, as any path is.
            #expect(try await server.call(.get, "/chats/%\(String(format: "%02X", Character(String(chat.prefix(1))).asciiValue!))\(chat.dropFirst())", as: "alice").status == 200)
            let noRoute = try await server.call(.get, "/users/bob/messages", as: "alice")
            #expect(noRoute.status == 404 && noRoute.string("detail")?.contains("no route for GET /users/bob/messages") == true, "\(noRoute.text)")
            let badTime = try await server.call(.get, "/chats/\(chat)/messages?cursor=10000-01-01T00:00:00Z", as: "alice")
            #expect(badTime.status == 400 && badTime.string("detail")?.components(separatedBy: "YYYY-MM-DD").count == 2, "the hint once: \(badTime.text)")
            #expect(try await server.call(.get, "/chats/\(chat)/search?query=%22open", as: "alice").status == 400)
            #expect(try await server.call(.get, "/chats/not-an-id", as: "alice").status == 400)
            // A parameter a list does not take is refused, not ignored: `direction` on a search
            // or on the caller's messages came back newest first, as if it had been heard.
            for path in ["/chats/\(chat)/search?query=x&direction=newer", "/users/me/messages?direction=newer",
                         "/chats?limits=5", "/chats/\(chat)/members?scope=public", "/chats/\(chat)/messages?dir=newer"] {
                let unknown = try await server.call(.get, path, as: "alice")
                #expect(unknown.status == 400 && unknown.string("detail")?.contains("unknown query parameter") == true, "\(path): \(unknown.text)")
            }
            for path in ["/chats/\(chat)/search?query=x&limit=5&cursor=", "/chats/\(chat)/search?query=x&&limit=5", "/users/me/messages?limit=5", "/chats?scope=public&limit=5",
                         "/chats/\(chat)/members?limit=5", "/chats/\(chat)/messages?direction=newer&limit=5"] {
                #expect(try await server.call(.get, path, as: "alice").status == 200, "\(path)")
            }
            // Nothing was written by any of it: the chat still has no messages but the one.
            let page = try await server.call(.get, "/chats/\(chat)/messages", as: "alice")
            #expect((page["messages"] as? [Any])?.count == 1)
        }
    }

    @Test func bodiesOver64KiBAre413() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            let huge = #"{"content":"\#(String(repeating: "a", count: 70_000))","messageType":"text"}"#
            let reply = try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: huge)
            #expect(reply.status == 413)
            #expect(reply.headers[.contentType] == "application/problem+json")
        }
    }

    @Test func aBodyLabelledAsAnotherMediaTypeIs415() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            let body = #"{"content":"hi","messageType":"text"}"#
            for label in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp",
                          "application/+json", "application/json; charset=utf-16", "application/json; charset=latin1"] {
                let reply = try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: body, headers: [.contentType: label])
                #expect(reply.status == 415 && reply.headers[.contentType] == "application/problem+json", "\(label): \(reply.status) \(reply.text)")
                #expect(reply.string("detail")?.contains("Content-Type: application/json") == true, "\(reply.text)")
            }
            let accepted = ["application/json; charset=utf-8", "Application/JSON", "application/vnd.chat+json", #"application/json; charset="UTF-8""#]
            for label in accepted {
                let reply = try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: body, headers: [.contentType: label])
                #expect(reply.status == 201, "\(label): \(reply.status) \(reply.text)")
            }
            // No label at all is read as JSON.
            let token = try await server.token("alice")
            let unlabelled = try await StalledClient.exchange(port: server.port, request: "POST /chats/\(chat)/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Authorization: Bearer \(token)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
            #expect(unlabelled.head.hasPrefix("HTTP/1.1 201"), "\(unlabelled.head)")
            let page = try await server.call(.get, "/chats/\(chat)/messages", as: "alice")
            #expect((page["messages"] as? [Any])?.count == accepted.count + 1, "the refused posts wrote nothing: \(page.text)")
        }
    }

    @Test func missingOrBadTokensAre401() async throws {
        try await TestServer.run { server in
            #expect(try await server.call(.get, "/chats", as: nil).status == 401)
            let bad = try await server.call(.get, "/chats", as: nil, headers: [.authorization: "Bearer not.a.token"])
            #expect(bad.status == 401 && bad.headers[.contentType] == "application/problem+json")
            #expect(try await server.call(.get, "/healthz", as: nil).status == 200)
            #expect(try await server.call(.get, "/metrics", as: nil).status == 200)
        }
    }

    @Test func forbiddenAndConflict() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            // A public chat can be read, but writing needs membership.
            #expect(try await server.call(.get, "/chats/\(chat)/messages", as: "mallory").status == 200)
            let write = try await server.call(.post, "/chats/\(chat)/messages", as: "mallory", json: #"{"content":"hi","messageType":"text"}"#)
            #expect(write.status == 403)
            try await server.join(chat, as: "bob")
            let message = try await server.post(chat, as: "alice", "mine")
            #expect(try await server.call(.patch, "/messages/\(message)", as: "bob", json: #"{"content":"x"}"#).status == 403)
            #expect(try await server.call(.delete, "/messages/\(message)", as: "bob").status == 403)
            #expect(try await server.call(.delete, "/chats/\(chat)/members/alice", as: "bob").status == 403)
            // Whoever is named, member or not: a member who may not remove is told so.
            #expect(try await server.call(.delete, "/chats/\(chat)/members/nobody-here", as: "bob").status == 403)
            #expect(try await server.call(.delete, "/messages/\(message)", as: "alice").status == 204)
            // Deleted already, it is still not bob's to delete.
            #expect(try await server.call(.delete, "/messages/\(message)", as: "bob").status == 403)
            #expect(try await server.call(.patch, "/messages/\(message)", as: "bob", json: #"{"content":"x"}"#).status == 403)
            #expect(try await server.call(.delete, "/messages/\(message)", as: "alice").status == 204)
            #expect(try await server.call(.patch, "/messages/\(message)", as: "alice", json: #"{"content":"x"}"#).status == 409)
            #expect(try await server.call(.get, "/chats/01ARZ3NDEKTSV4RRFFQ69G5FAV", as: "alice").status == 404)
            #expect(try await server.call(.patch, "/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV", as: "alice", json: #"{"content":"x"}"#).status == 404)
        }
    }

    /// A message carries at most `maxReactionKinds` different emoji; more of one already
    /// there are fine. An edit to the same text appends nothing.
    @Test func reactionKindsAreBoundedAndSameTextEditsAreNoOps() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let message = try await server.post(chat, as: "alice", "react to me")
            let faces = (0x1F600..<0x1F600 + UInt32(ChatFlowCommands.maxReactionKinds)).map { String(Unicode.Scalar($0)!) }
            for face in faces {
                let reply = try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"\#(face)"}"#)
                #expect(reply.status == 201, "\(face): \(reply.status) \(reply.text)")
            }
            let before = server.engine.log.lastPosition
            let refused = try await server.call(.post, "/messages/\(message)/reactions", as: "bob", json: #"{"emoji":"👍"}"#)
            #expect(refused.status == 409 && refused.string("detail")?.contains("50 different reactions") == true, "\(refused.status) \(refused.text)")
            #expect(server.engine.log.lastPosition == before, "a refused reaction appended")
            #expect(try await server.call(.post, "/messages/\(message)/reactions", as: "bob", json: #"{"emoji":"\#(faces[7])"}"#).status == 201)
            // Once one kind is gone, another may take its place.
            #expect(try await server.call(.delete, "/messages/\(message)/reactions/\(faces[0].addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)", as: "alice").status == 204)
            #expect(try await server.call(.post, "/messages/\(message)/reactions", as: "bob", json: #"{"emoji":"👍"}"#).status == 201)

            let edited = try await server.call(.patch, "/messages/\(message)", as: "alice", json: #"{"content":"react to this"}"#)
            #expect(edited.status == 200)
            let afterEdit = server.engine.log.lastPosition
            let again = try await server.call(.patch, "/messages/\(message)", as: "alice", json: #"{"content":" react to this "}"#)
            #expect(again.status == 200 && again.string("editedAt") == edited.string("editedAt"), "\(again.text)")
            #expect(server.engine.log.lastPosition == afterEdit, "an edit to the same text appended")
        }
    }

    /// Two forms of one emoji (with and without a variation selector) are one reaction,
    /// named in its fully-qualified form, and either form removes it.
    @Test func reactionsThatLookTheSameAreOne() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let message = try await server.post(chat, as: "alice", "react to me")
            let added = try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"👍\ufe0f"}"#)
            #expect(added.status == 201 && added.string("emoji") == "👍", "\(added.text)")
            #expect(try await server.call(.post, "/messages/\(message)/reactions", as: "bob", json: #"{"emoji":"👍"}"#).status == 201)
            #expect(try await server.call(.post, "/messages/\(message)/reactions", as: "bob", json: #"{"emoji":"1\u20e3"}"#).status == 201)
            let listed = try await server.call(.get, "/messages/\(message)/reactions", as: "alice")
            let kinds = (listed.json as? [[String: Any]] ?? []).map { ($0["emoji"] as? String ?? "?", $0["count"] as? Int ?? 0) }
            #expect(kinds.map(\.0) == ["👍", "1️⃣"] && kinds.map(\.1) == [2, 1], "\(listed.text)")
            let removed = try await server.call(.delete, "/messages/\(message)/reactions/%F0%9F%91%8D%EF%B8%8F", as: "bob")
            #expect(removed.status == 204, "\(removed.text)")
            let after = try await server.call(.get, "/messages/\(message)/reactions", as: "alice")
            #expect((after.json as? [[String: Any]] ?? []).map { $0["count"] as? Int ?? 0 } == [1, 1], "\(after.text)")

            // A reaction whose text the rules refuse now but once took (a flag no region has)
            // counts as it was stored, and its user can take it back; nobody can add it again.
            let flag = "%F0%9F%87%BA%F0%9F%87%BA"  // 🇺🇺
            let old = try await server.engine.log.append(EventCodec.encode(EventEnvelope(
                actor: UserID(unchecked: "bob"), event: .reactionAdded(.init(chat: ChatID(parsing: chat), message: MessageID(parsing: message), emoji: "🇺🇺")))))
            try await server.engine.projector.waitUntilApplied(old.ids[0], cancellable: false)
            #expect(try await server.call(.get, "/messages/\(message)/reactions", as: "alice").text.contains("🇺🇺"))
            #expect(try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"🇺🇺"}"#).status == 400)
            #expect(try await server.call(.delete, "/messages/\(message)/reactions/\(flag)", as: "alice").status == 400, "alice never had it")
            #expect(try await server.call(.delete, "/messages/\(message)/reactions/\(flag)", as: "bob").status == 204)
            #expect(try await !server.call(.get, "/messages/\(message)/reactions", as: "alice").text.contains("🇺🇺"))
            #expect(try await server.call(.delete, "/messages/\(message)/reactions/\(flag)", as: "bob").status == 400, "gone: no emoji")
        }
    }

    /// Every write takes an `Idempotency-Key`: a retry with it answers as the first time
    /// did and appends nothing, even after later writes undid it; the key sent with another
    /// request is a 409.
    @Test func retriedWritesWithAKeyChangeNothing() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            try await server.join(chat, as: "bob")
            let message = try await server.post(chat, as: "alice", "draft")
            func keyed(_ key: String) -> HTTPFields { [HTTPField.Name("Idempotency-Key")!: key] }
            func appendsNothing(_ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ call: () async throws -> TestServer.Reply) async throws -> TestServer.Reply {
                let before = server.engine.log.lastPosition
                let reply = try await call()
                #expect(server.engine.log.lastPosition == before, "\(what) appended", sourceLocation: sourceLocation)
                return reply
            }

            // Every keyed write's retry says it was answered from the first, as a post's does.
            func replayed(_ reply: TestServer.Reply) -> Bool { reply.headers[HTTPField.Name("Idempotent-Replayed")!] == "true" }
            let firstEdit = try await server.call(.patch, "/messages/\(message)", as: "alice", json: #"{"content":"first"}"#, headers: keyed("e1"))
            #expect(firstEdit.status == 200 && !replayed(firstEdit))
            #expect(try await server.call(.patch, "/messages/\(message)", as: "alice", json: #"{"content":"second"}"#, headers: keyed("e2")).status == 200)
            let edit = try await appendsNothing("a retried edit") {
                try await server.call(.patch, "/messages/\(message)", as: "alice", json: #"{"content":"first"}"#, headers: keyed("e1"))
            }
            #expect(edit.status == 200 && edit.string("content") == "second" && replayed(edit), "\(edit.text)")
            let other = try await appendsNothing("an edit with a reused key") {
                try await server.call(.patch, "/messages/\(message)", as: "alice", json: #"{"content":"third"}"#, headers: keyed("e1"))
            }
            #expect(other.status == 409 && other.string("detail")?.contains("already used for a different request") == true, "\(other.text)")

            #expect(try await server.call(.post, "/messages/\(message)/reactions", as: "bob", json: #"{"emoji":"👍"}"#, headers: keyed("r1")).status == 201)
            #expect(try await server.call(.delete, "/messages/\(message)/reactions/%F0%9F%91%8D", as: "bob").status == 204)
            let react = try await appendsNothing("a retried reaction") {
                try await server.call(.post, "/messages/\(message)/reactions", as: "bob", json: #"{"emoji":"👍"}"#, headers: keyed("r1"))
            }
            #expect(react.status == 201 && react.string("emoji") == "👍" && replayed(react))
            #expect(try await server.call(.get, "/messages/\(message)/reactions", as: "bob").text == "[]")

            #expect(try await server.call(.post, "/chats/\(chat)/members", as: "alice", json: #"{"userId":"carol"}"#, headers: keyed("a1")).status == 200)
            #expect(try await server.call(.delete, "/chats/\(chat)/members/carol", as: "alice").status == 204)
            let add = try await appendsNothing("a retried add") {
                try await server.call(.post, "/chats/\(chat)/members", as: "alice", json: #"{"userId":"carol"}"#, headers: keyed("a1"))
            }
            #expect(add.status == 200 && add.string("userId") == "carol" && replayed(add))
            #expect(try await server.call(.get, "/chats/\(chat)/members", as: "alice").text.contains("carol") == false)

            #expect(try await server.call(.delete, "/chats/\(chat)/members/bob", as: "bob", headers: keyed("l1")).status == 204)
            try await server.join(chat, as: "bob")
            let leave = try await appendsNothing("a retried leave") {
                try await server.call(.delete, "/chats/\(chat)/members/bob", as: "bob", headers: keyed("l1"))
            }
            #expect(leave.status == 204 && replayed(leave))
            #expect(try await server.call(.get, "/chats/\(chat)/members", as: "alice").text.contains("bob"))

            // A retry shows nothing of a private chat the caller has since left.
            let secret = try await server.createChat("alice", name: "secret", isPrivate: true)
            try await server.add("bob", to: secret, by: "alice")
            #expect(try await server.call(.post, "/chats/\(secret)/members", as: "bob", json: #"{"userId":"dave"}"#, headers: keyed("s1")).status == 200)
            #expect(try await server.call(.delete, "/chats/\(secret)/members/bob", as: "alice").status == 204)
            let hidden = try await server.call(.post, "/chats/\(secret)/members", as: "bob", json: #"{"userId":"dave"}"#, headers: keyed("s1"))
            #expect(hidden.status == 404 && !hidden.text.contains("dave"), "\(hidden.text)")

            // One key names one request, whatever its kind: sent again with a post or to
            // create a chat, it is a reused key (409), not a new write; the same, the other
            // way round, for a key first used to post or to create a chat.
            #expect(try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"🎉"}"#, headers: keyed("k1")).status == 201)
            let postWithIt = try await appendsNothing("a post with a reaction's key") {
                try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"again","messageType":"text"}"#, headers: keyed("k1"))
            }
            #expect(postWithIt.status == 409 && postWithIt.string("detail")?.contains("already used for a different") == true, "\(postWithIt.text)")
            let chatWithIt = try await appendsNothing("a chat with a reaction's key") {
                try await server.call(.post, "/chats", as: "alice", json: #"{"name":"again","isPrivate":false}"#, headers: keyed("k1"))
            }
            #expect(chatWithIt.status == 409, "\(chatWithIt.text)")
            #expect(try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"keyed","messageType":"text","clientMessageId":"k2"}"#).status == 201)
            let reactWithIt = try await appendsNothing("a reaction with a post's key") {
                try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"🚀"}"#, headers: keyed("k2"))
            }
            #expect(reactWithIt.status == 409, "\(reactWithIt.text)")
            #expect(try await server.call(.post, "/chats", as: "alice", json: #"{"name":"keyed","isPrivate":false}"#, headers: keyed("k3")).status == 201)
            let postWithChatKey = try await appendsNothing("a post with a chat's key") {
                try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"k3","messageType":"text","clientMessageId":"k3"}"#)
            }
            #expect(postWithChatKey.status == 409, "\(postWithChatKey.text)")
            // Another user's keys are their own.
            #expect(try await server.call(.post, "/chats/\(chat)/messages", as: "bob", json: #"{"content":"bob's","messageType":"text","clientMessageId":"k1"}"#).status == 201)
        }
    }

    /// A keyed write that changed nothing (already reacted, already a member, the same
    /// text, a reaction not there, a message already deleted, a chat already so) keeps its
    /// key as any other: a retry after later writes appends nothing, and the key sent with
    /// another request is a 409.
    @Test func keysOfWritesThatChangedNothingAreKeptToo() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            let message = try await server.post(chat, as: "alice", "hi")
            func keyed(_ key: String) -> HTTPFields { [HTTPField.Name("Idempotency-Key")!: key] }
            let thumbs = "%F0%9F%91%8D"

            // Already reacted: the keyed request changes nothing; its retry after an unreact
            // does not react again.
            #expect(try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"👍"}"#).status == 201)
            #expect(try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"👍"}"#, headers: keyed("n1")).status == 201)
            #expect(try await server.call(.delete, "/messages/\(message)/reactions/\(thumbs)", as: "alice").status == 204)
            let retried = try await server.call(.post, "/messages/\(message)/reactions", as: "alice", json: #"{"emoji":"👍"}"#, headers: keyed("n1"))
            #expect(retried.status == 201 && retried.string("emoji") == "👍", "\(retried.text)")
            #expect(try await server.call(.get, "/messages/\(message)/reactions", as: "alice").text == "[]")

            // Each no-op's key, sent with another request, is a reused key.
            let before = server.engine.log.lastPosition
            #expect(try await server.call(.post, "/chats/\(chat)/members", as: "alice", json: "{}", headers: keyed("n2")).status == 200)
            #expect(try await server.call(.delete, "/messages/\(message)/reactions/\(thumbs)", as: "alice", headers: keyed("n3")).status == 204)
            #expect(try await server.call(.patch, "/messages/\(message)", as: "alice", json: #"{"content":"hi"}"#, headers: keyed("n4")).status == 200)
            #expect(try await server.call(.patch, "/chats/\(chat)", as: "alice", json: #"{"name":"general"}"#, headers: keyed("n5")).status == 200)
            #expect(server.engine.log.lastPosition == before, "a no-op appended an event")
            for key in ["n2", "n3", "n4", "n5"] {
                let reused = try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"with \#(key)","messageType":"text"}"#, headers: keyed(key))
                #expect(reused.status == 409, "\(key): \(reused.text)")
            }
            #expect(try await server.call(.patch, "/messages/\(message)", as: "alice", json: #"{"content":"changed"}"#, headers: keyed("n4")).status == 409)
            #expect(try await server.call(.post, "/chats/\(chat)/read", as: "alice", json: #"{"messageId":"\#(message)"}"#, headers: keyed("n3")).status == 409)
            #expect(server.engine.log.lastPosition == before, "a reused key wrote something")

            // Deleting again with a key, then the key elsewhere.
            #expect(try await server.call(.delete, "/messages/\(message)", as: "alice").status == 204)
            #expect(try await server.call(.delete, "/messages/\(message)", as: "alice", headers: keyed("n6")).status == 204)
            #expect(try await server.call(.post, "/chats", as: "alice", json: #"{"name":"n6","isPrivate":false}"#, headers: keyed("n6")).status == 409)
        }
    }

    /// A creator who has left a private chat and retries its creation hears of the chat as
    /// the first answer showed it, not as its members have made it since.
    @Test func aRetriedCreationShowsALeftPrivateChatAsItWasCreated() async throws {
        try await TestServer.run { server in
            let key: HTTPFields = [.init("Idempotency-Key")!: "team-1"]
            let body = #"{"name":"team","isPrivate":true}"#
            let first = try await server.call(.post, "/chats", as: "alice", json: body, headers: key)
            let chat = try #require(first.string("id"))
            try await server.add("bob", to: chat, by: "alice")
            #expect(try await server.call(.delete, "/chats/\(chat)/members/alice", as: "alice").status == 204)
            #expect(try await server.call(.patch, "/chats/\(chat)", as: "bob", json: #"{"name":"secret plans","description":"who goes"}"#).status == 200)
            try await server.add("carol", to: chat, by: "bob")

            let again = try await server.call(.post, "/chats", as: "alice", json: body, headers: key)
            #expect(again.status == 201 && again.headers[.init("Idempotent-Replayed")!] == "true", "\(again.text)")
            #expect(again.string("id") == chat && again.string("name") == "team" && again.string("description") == "", "\(again.text)")
            #expect(again["memberCount"] as? Int == 1 && !again.text.contains("secret") && !again.text.contains("who goes"), "\(again.text)")
            #expect(again.string("createdAt") == first.string("createdAt"))
        }
    }

    /// A path the API has, asked with a method it does not take, is 405 with `Allow` (RFC
    /// 9110 §15.5.6), as a problem, whoever asks; a path it does not have stays 404, and an
    /// unknown id on a real route stays the domain's 404.
    @Test func aMethodAPathDoesNotTakeIs405WithAllow() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            let cases: [(HTTPRequest.Method, String, String)] = [
                (.put, "/chats/01ARZ3NDEKTSV4RRFFQ69G5FAV", "GET, HEAD, PATCH"),
                (.delete, "/chats/", "GET, HEAD, POST"),
                (.post, "/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV", "DELETE, GET, HEAD, PATCH"),
                (.head, "/admin/backup", "POST"),
                (.post, "/healthz", "GET, HEAD"),
                (.options, "/chats/\(chat)/messages", "GET, HEAD, POST"),
            ]
            for (method, path, allow) in cases {
                for user in ["alice", nil] {
                    let reply = try await server.call(method, path, as: user)
                    #expect(reply.status == 405, "\(method) \(path): \(reply.status) \(reply.text)")
                    #expect(reply.headers[.allow] == allow, "\(method) \(path)")
                    #expect(reply.headers[.contentType] == "application/problem+json")
                    if method == .head { continue }  // no body: only its headers
                    #expect(reply["status"] as? Int == 405 && reply.string("title") == "Method Not Allowed")
                    #expect(reply.string("detail")?.hasPrefix("\(method.rawValue) is not allowed on ") == true, "\(reply.text)")
                }
            }
            let put = try await server.call(.put, "/chats/\(chat)", as: "alice")
            #expect(put.string("detail") == "PUT is not allowed on /chats/{chatId}; use GET, HEAD or PATCH", "\(put.text)")
            let metrics = try await server.call(.get, "/metrics", as: nil).text.split(separator: "\n")
            #expect(metrics.contains { $0.hasPrefix("chatflow_http_requests_total") && $0.contains(#"route="/chats/{chatId}""#) && $0.contains(#"status="405""#) },
                    "a 405 is counted under its route's template")
            // Methods beyond the standard ones (WebDAV's, here) are counted as `other`.
            #expect(try await server.call(HTTPRequest.Method("PROPFIND")!, "/chats/\(chat)", as: "alice").status == 405)
            let counted = try await server.call(.get, "/metrics", as: nil).text
            #expect(!counted.contains("PROPFIND") && counted.contains(#"method="other""#), "only the standard methods are labels")
            // HEAD is a GET without the body, wherever there is a GET.
            let head = try await server.call(.head, "/chats/\(chat)", as: "alice")
            #expect(head.status == 200 && head.text.isEmpty && head.headers[.contentType]?.hasPrefix("application/json") == true, "\(head.headers)")
            #expect(try await server.call(.head, "/healthz", as: nil).status == 200)
            #expect(try await server.call(.head, "/chats/\(chat)", as: nil).status == 401)

            let unknown = try await server.call(.put, "/nowhere/at/all", as: "alice")
            #expect(unknown.status == 404 && unknown.headers[.allow] == nil && unknown.headers[.contentType] == "application/problem+json")
            #expect(try await server.call(.get, "/chats/\(chat)/nothing", as: "alice").status == 404)
            let noChat = try await server.call(.get, "/chats/01ARZ3NDEKTSV4RRFFQ69G5FAV", as: "alice")
            #expect(noChat.status == 404 && noChat.headers[.allow] == nil && noChat.headers[.contentType] == "application/problem+json")
            #expect(noChat.string("detail") != "Not Found", "the domain's own 404, not the router's: \(noChat.text)")
            // The web client is still served, and only for reading.
            let page = try await server.call(.get, "/index.html", as: nil)
            #expect(page.status == 200 && page.headers[.contentType]?.hasPrefix("text/html") == true)
            // Hardened for browsers: its own scripts only, never framed, nothing sniffed.
            #expect(page.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("frame-ancestors 'none'") == true)
            #expect(page.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'self'") == true)
            #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY" && page.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            let refused = try await server.call(.get, "/chats", as: nil)
            #expect(refused.status == 401 && refused.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff", "error answers too")
            #expect(try await server.call(.head, "/app.js", as: nil).status == 200)
            #expect(try await server.call(.post, "/index.html", as: nil).status == 404)
        }
    }

    /// Range requests for the web client's files get the whole file, and the connection's
    /// next answer starts where it should (ranges past or at the end broke both).
    /// A directory of web files may hold hidden ones (`.git`, `.env`): they are not served,
    /// however the path is spelled, nor is a file asked for as a directory.
    @Test func hiddenFilesAndFilesAsDirectoriesAreNotServed() async throws {
        let dir = TemporaryDirectory("chatflow-public")
        defer { dir.remove() }
        let files = FileManager.default
        try files.createDirectory(atPath: dir.appending("site/.git"), withIntermediateDirectories: true)
        for (name, text) in [("site/index.html", "<p>hi</p>"), ("site/app.js", "1"), ("site/.env", "SECRET=1"), ("site/.git/config", "[core]")] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: dir.appending(name)))
        }
        try await TestServer.run(configure: { $0.publicDirectory = dir.appending("site") }) { server in
            #expect(try await server.call(.get, "/app.js", as: nil).status == 200)
            for path in ["/.env", "/%2Eenv", "/.git/config", "/.git/", "/app.js/", "/app.js%2F"] {
                let reply = try await server.call(.get, path, as: nil)
                #expect(reply.status == 404 && !reply.text.contains("SECRET") && !reply.text.contains("[core]"), "\(path): \(reply.status) \(reply.text)")
            }
        }
    }

    @Test func rangeRequestsForFilesGetTheWholeFile() async throws {
        try await TestServer.run { server in
            let whole = try await server.call(.get, "/index.html", as: nil)
            #expect(whole.status == 200 && !whole.text.isEmpty)
            #expect(whole.headers[.acceptRanges] == "none")
            let size = whole.text.utf8.count
            let ranges = ["bytes=100000000-", "bytes=\(size)-", "bytes=-5", "bytes=-0", "bytes=0-3", "bytes=garbage"]
            for range in ranges {
                let reply = try await server.call(.get, "/index.html", as: nil, headers: [.range: range, .ifRange: "\"x\""])
                #expect(reply.status == 200 && reply.text == whole.text, "Range: \(range) gave \(reply.status), \(reply.text.utf8.count) bytes")
                #expect(reply.headers[.contentLength] == "\(size)", "Range: \(range): Content-Length \(reply.headers[.contentLength] ?? "none")")
            }
            // On one keep-alive connection, the answer after each range request is intact.
            var request = ""
            for range in ranges {
                request += "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: \(range)\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            }
            request += "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            let answers = Self.answers(in: try await StalledClient.open(port: server.port, sending: request).readUntilEnd())
            #expect(answers.count == ranges.count * 2 + 1)
            #expect(answers.allSatisfy { $0.head.hasPrefix("HTTP/1.1 200 ") }, "\(answers.map { $0.head.prefix(20) })")
        }
    }

    /// A request a server must not serve as it stands is refused after the answers to the
    /// requests before it, and the connection closes without reading on: an HTTP/1.1
    /// request without `Host`, with two, or with a malformed one (400), and `CONNECT` (501;
    /// it was answered with no length and the connection left open). HTTP/1.0 needs no `Host`.
    @Test(.timeLimit(.minutes(1))) func requestsWithoutOneGoodHostAndTunnelsAreRefusedInOrder() async throws {
        try await TestServer.run { server in
            let fine = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\n\r\n"
            let refused = [
                ("GET /healthz HTTP/1.1\r\n\r\n", "400"),
                ("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"),
                ("GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", "400"),
                ("GET /healthz HTTP/1.1\r\nHost: a:80x\r\n\r\n", "400"),
                ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "501"),
                // Codings NIO's parser passes over, reading the body as chunked anyway.
                ("POST /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "501"),
                ("POST /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo, chunked\r\n\r\n0\r\n\r\n", "501"),
                ("POST /healthz HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"),
                ("GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", "501"),
            ]
            for (request, status) in refused {
                // First on its connection, and behind two others; the one after it is not read.
                for before in [0, 2] {
                    let stream = String(repeating: fine, count: before) + request + fine
                    let answers = Self.answers(in: try await StalledClient.open(port: server.port, sending: stream).readUntilEnd())
                    let statuses = answers.map { String($0.head.dropFirst("HTTP/1.1 ".count).prefix(3)) }
                    #expect(statuses == Array(repeating: "200", count: before) + [status], "\(request.debugDescription) after \(before)")
                    let refusal = try #require(answers.last)
                    // An answer to CONNECT has no body (NIO frames it so): its head says it all.
                    let explained = status == "501" || refusal.body.contains("\"detail\"")
                    #expect(refusal.head.lowercased().contains("connection: close") && explained, "\(refusal) \(request.debugDescription)")
                    #expect(refusal.head.contains("\r\nX-Content-Type-Options: nosniff\r\n") && refusal.head.contains("\r\nReferrer-Policy: no-referrer"), "\(refusal.head)")
                    #expect(refusal.head.contains("\r\nServer: chatflow") && refusal.head.range(of: #"\r\nDate: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT"#, options: .regularExpression) != nil, "\(refusal.head)")
                }
            }
            for host in ["[1:2:3:4:5:6:7:8:9:10]", "[....]", "[\u{FF11}]", "a%zz", "a%2", "é.example"] {
                let answers = Self.answers(in: try await StalledClient.open(
                    port: server.port, sending: "GET /healthz HTTP/1.1\r\nHost: \(host)\r\n\r\n").readUntilEnd())
                #expect(answers.map { $0.head.prefix(12) } == ["HTTP/1.1 400"], "Host: \(host)")
            }
            for host in ["[::1]:8080", "[::ffff:127.0.0.1]", "[v1.fe]", "a%2Fb", "xn--bcher-kva.example", "", "127.0.0.1", "x ", "x\t"] {
                let answers = Self.answers(in: try await StalledClient.open(
                    port: server.port, sending: "GET /healthz HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n").readUntilEnd())
                #expect(answers.map { $0.head.prefix(12) } == ["HTTP/1.1 200"], "Host: \(host)")
            }
            let old = Self.answers(in: try await StalledClient.open(port: server.port, sending: "GET /healthz HTTP/1.0\r\n\r\n").readUntilEnd())
            #expect(old.map { $0.head.prefix(12) } == ["HTTP/1.1 200"])
            let chunked = Self.answers(in: try await StalledClient.open(port: server.port, sending:
                "POST /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n0\r\n\r\n").readUntilEnd())
            #expect(chunked.map { $0.head.prefix(12) } == ["HTTP/1.1 405"], "chunked alone is read (and GET is all /healthz takes)")
        }
    }

    /// A request asking to upgrade to anything but a WebSocket (`curl --http2`'s `h2c`), or
    /// any upgrade past the first request, is answered and then ends the connection: NIO's
    /// parser reads nothing after it, and the next request waited, unanswered, for the idle
    /// timeout.
    @Test(.timeLimit(.minutes(1))) func upgradeRequestsThatAreNotTakenEndTheirConnection() async throws {
        try await TestServer.run { server in
            let fine = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            let h2c = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"
            let badSocket = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            for (stream, statuses) in [(h2c + fine, ["200"]), (fine + h2c + fine, ["200", "200"]), (fine + badSocket + fine, ["200", "426"])] {
                let answers = Self.answers(in: try await StalledClient.open(port: server.port, sending: stream).readUntilEnd())
                #expect(answers.map { String($0.head.dropFirst("HTTP/1.1 ".count).prefix(3)) } == statuses, "\(stream.debugDescription)")
                #expect(answers.last?.head.lowercased().contains("connection: close") == true, "\(answers.last?.head ?? "")")
            }
        }
    }

    /// `Expect: 100-continue` is answered with `100 Continue` before the body is sent, so a
    /// client that waits for it (curl, for a body over 1 KiB) does not wait out its timeout.
    @Test(.timeLimit(.minutes(1))) func aClientExpectingContinueIsToldToGoOn() async throws {
        try await TestServer.run { server in
            let token = try await server.token("alice")
            let body = #"{"name":"continued","isPrivate":false}"#
            let client = try await StalledClient.open(port: server.port, sending: "POST /chats HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Authorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Expect: 100-continue\r\nConnection: close\r\n\r\n")
            #expect(try await client.readAnswerHead().hasPrefix("HTTP/1.1 100 Continue"))
            try await client.send(body)
            let answers = Self.answers(in: try await client.readUntilEnd())
            #expect(answers.first?.head.hasPrefix("HTTP/1.1 201") == true, "\(answers)")

            // Behind another request, it is told once that one is answered.
            let behind = try await StalledClient.open(port: server.port, sending: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                + "POST /chats HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Authorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Expect: 100-continue\r\nConnection: close\r\n\r\n")
            #expect(try await behind.readAnswerHead().hasPrefix("HTTP/1.1 200"))
            #expect(try await behind.readAnswerHead().hasSuffix("HTTP/1.1 100 Continue\r\n\r\n"))
            try await behind.send(body)
            #expect(Self.answers(in: try await behind.readUntilEnd()).first?.head.hasPrefix("HTTP/1.1 201") == true)

            // A body announced over the limit is refused at once, without a `100 Continue`,
            // and the connection ends: its body is never read, with or without the `Expect`.
            for expect in ["Expect: 100-continue\r\n", ""] {
                let tooLarge = try await StalledClient.open(port: server.port, sending: "POST /chats HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Authorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n"
                    + expect + "\r\n")
                let refused = Self.answers(in: try await tooLarge.readUntilEnd())
                #expect(refused.count == 1 && refused[0].head.hasPrefix("HTTP/1.1 413"), "\(expect): \(refused)")
                #expect(refused.first?.head.lowercased().contains("connection: close") == true, "\(expect): \(refused)")
            }
            // So does any answer that comes before its request's body has arrived, as one to a
            // request without a token does; nor is that one told to go on.
            let unsigned = try await StalledClient.open(port: server.port, sending: "POST /chats HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Content-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n{")
            let unsignedAnswers = Self.answers(in: try await unsigned.readUntilEnd())
            #expect(unsignedAnswers.count == 1 && unsignedAnswers[0].head.hasPrefix("HTTP/1.1 401"), "\(unsignedAnswers)")
            #expect(unsignedAnswers.first?.head.lowercased().contains("connection: close") == true, "\(unsignedAnswers)")

            // A client that sends its whole body at once still reads the refusal: the rest of
            // the body is read and dropped rather than answered with a reset.
            let bodyOfMegabytes = #"{"name":"\#(String(repeating: "a", count: 20_000_000))","isPrivate":false}"#
            let sentWhole = try await StalledClient.open(port: server.port, sending: "POST /chats HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Authorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: \(bodyOfMegabytes.utf8.count)\r\n\r\n"
                + bodyOfMegabytes)
            let refused = Self.answers(in: try await sentWhole.readUntilEnd())
            #expect(refused.count == 1 && refused[0].head.hasPrefix("HTTP/1.1 413"), "\(refused)")
            #expect(try await server.call(.get, "/chats", as: "alice").status == 200)
        }
    }

    /// The answers in a stream read from one connection: each a head, then exactly
    /// `Content-Length` bytes of body. Whatever does not parse is left as a last answer.
    static func answers(in stream: String) -> [(head: String, body: String)] {
        var rest = Array(stream.utf8)[...]
        var answers: [(head: String, body: String)] = []
        let blank = Array("\r\n\r\n".utf8)
        while let end = rest.indices.first(where: { rest[$0...].starts(with: blank) }) {
            let head = String(decoding: rest[..<end], as: UTF8.self)
            let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            rest = rest[(end + blank.count)...]
            answers.append((head, String(decoding: rest.prefix(length), as: UTF8.self)))
            rest = rest.dropFirst(length)
        }
        if !rest.isEmpty { answers.append(("left over: " + String(decoding: rest.prefix(40), as: UTF8.self), "")) }
        return answers
    }

    @Test func writesAreRateLimitedPerUser() async throws {
        // A refill of one write per 100 s: the limit must bite however slowly the machine runs.
        try await TestServer.run(configure: { $0.rateLimit = 0.01; $0.rateBurst = 3; $0.readRateLimit = 0.01; $0.readRateBurst = 3 }) { server in
            let chat = try await server.createChat("alice")
            var statuses: [Int] = []
            for i in 0..<5 {
                statuses.append(try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"m\#(i)","messageType":"text"}"#).status)
            }
            #expect(statuses.contains(429))
            let limited = try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"x","messageType":"text"}"#)
            #expect(limited.status == 429 && Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
            // Another user has their own bucket, and reads have a bucket of their own.
            try await server.join(chat, as: "bob")
            #expect(try await server.call(.get, "/chats/\(chat)/messages", as: "alice").status == 200)
        }
    }

    @Test func browsersOnAllowedOriginsMayCallTheAPI() async throws {
        let app = "https://app.example.com"
        let origin = HTTPField.Name("Origin")!
        // Configured as written by hand: the browser's lowercase host and no default port match.
        try await TestServer.run(configure: { $0.corsOrigins = ["https://App.Example.com:443", "http://localhost:3000"]; $0.rateLimit = 0.01; $0.rateBurst = 1 }) { server in
            // The preflight of a POST with a token and an idempotency key.
            let preflight = try await server.call(.options, "/chats", as: nil, headers: [
                origin: app, HTTPField.Name("Access-Control-Request-Method")!: "POST",
                HTTPField.Name("Access-Control-Request-Headers")!: "authorization, content-type, idempotency-key",
            ])
            #expect(preflight.status == 204, "\(preflight.status) \(preflight.text)")
            #expect(preflight.headers[.accessControlAllowOrigin] == app)
            let methods = preflight.headers[.accessControlAllowMethods] ?? ""
            let headers = (preflight.headers[.accessControlAllowHeaders] ?? "").lowercased()
            for method in ["GET", "POST", "PATCH", "DELETE"] { #expect(methods.contains(method), "\(methods)") }
            for header in ["authorization", "content-type", "idempotency-key"] { #expect(headers.contains(header), "\(headers)") }
            #expect(preflight.headers[.vary]?.contains("Origin") == true)

            // Answers, errors included, are marked for the origin, with the headers a client reads.
            let created = try await server.call(.post, "/chats", as: "alice", json: #"{"name":"x","isPrivate":false}"#, headers: [origin: app])
            #expect(created.status == 201 && created.headers[.accessControlAllowOrigin] == app)
            #expect(created.headers[.accessControlExposeHeaders]?.contains("Location") == true)
            let limited = try await server.call(.post, "/chats", as: "alice", json: #"{"name":"y","isPrivate":false}"#, headers: [origin: app])
            #expect(limited.status == 429 && limited.headers[.accessControlAllowOrigin] == app)
            #expect(limited.headers[.accessControlExposeHeaders]?.contains("Retry-After") == true)
            let unauthorized = try await server.call(.get, "/chats", as: nil, headers: [origin: "http://localhost:3000"])
            #expect(unauthorized.status == 401 && unauthorized.headers[.accessControlAllowOrigin] == "http://localhost:3000")

            // Another origin gets no mark, so its page cannot read the answer; nor a preflight.
            let other = try await server.call(.get, "/chats", as: "alice", headers: [origin: "https://evil.example"])
            #expect(other.status == 200 && other.headers[.accessControlAllowOrigin] == nil)
            let otherPreflight = try await server.call(.options, "/chats", as: nil, headers: [
                origin: "https://evil.example", HTTPField.Name("Access-Control-Request-Method")!: "POST",
            ])
            #expect(otherPreflight.headers[.accessControlAllowOrigin] == nil && otherPreflight.status != 204)
            let opaque = try await server.call(.get, "/chats", as: "alice", headers: [origin: "null"])
            #expect(opaque.headers[.accessControlAllowOrigin] == nil, "a page of origin null (a file, a sandbox) is no allowed origin")
            // An OPTIONS that asks for no method is no preflight: the API has no OPTIONS.
            let plainOptions = try await server.call(.options, "/chats", as: nil, headers: [origin: app])
            #expect(plainOptions.status != 204 && plainOptions.headers[.accessControlAllowMethods] == nil, "\(plainOptions.status) \(plainOptions.headers)")
            // Whatever the origin, answers vary by it, so no cache serves one origin's to another.
            for answer in [other, opaque, try await server.call(.get, "/chats", as: "alice")] {
                #expect(answer.headers[values: .vary].contains("Origin"), "\(answer.headers)")
            }
        }
        // By default no origin but the server's own.
        try await TestServer.run { server in
            let answer = try await server.call(.get, "/chats", as: "alice", headers: [origin: app])
            #expect(answer.status == 200 && answer.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test func corsOriginsMustBeOrigins() throws {
        for bad in ["app.example.com", "https://app.example.com/", "https://app.example.com/path", "ftp://x", "https://",
                    "https://a.example?x", "https://a.example#x", "http://:8080", "https://a.example:port", "https://me@a.example",
                    "https:a.example", "https://a.example:0"] {
            var configuration = ServerConfiguration(jwtSecret: TestServer.secret)
            configuration.corsOrigins = [bad]
            #expect(throws: ConfigurationError.self, "\(bad)") { try configuration.validate() }
        }
        var configuration = ServerConfiguration(jwtSecret: TestServer.secret)
        configuration.corsOrigins = ["https://app.example.com", "http://localhost:3000", "*", "HTTPS://App.Example.COM", "http://[::1]:8080"]
        try configuration.validate()
        #expect(CrossOriginMiddleware.canonical("HTTPS://App.Example.COM:443") == "https://app.example.com")
        #expect(CrossOriginMiddleware.canonical("http://a.example:80") == "http://a.example")
        #expect(CrossOriginMiddleware.canonical("http://a.example:8443") == "http://a.example:8443")
        #expect(CrossOriginMiddleware.canonical("http://[::1]:8080") == "http://[::1]:8080")
    }

    @Test func readsAreRateLimitedPerUserApartFromWrites() async throws {
        try await TestServer.run(configure: { $0.readRateLimit = 0.01; $0.readRateBurst = 3 }) { server in
            let chat = try await server.createChat("alice")
            var statuses: [Int] = []
            for _ in 0..<3 {
                statuses.append(try await server.call(.get, "/chats/\(chat)/messages", as: "alice").status)
            }
            #expect(statuses == [200, 200, 200])
            for (method, path) in [(HTTPRequest.Method.get, "/chats/\(chat)/search?query=x"), (.head, "/chats/\(chat)"), (.get, "/chats")] {
                let limited = try await server.call(method, path, as: "alice")
                #expect(limited.status == 429, "\(method) \(path): \(limited.status)")
                #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
                if method != .head { #expect(limited.string("detail")?.hasPrefix("too many reads; retry in") == true, "\(limited.text)") }
            }
            // Writing, another user's reads and requests without a user go on.
            #expect(try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"still","messageType":"text"}"#).status == 201)
            try await server.join(chat, as: "bob")
            #expect(try await server.call(.get, "/chats/\(chat)/messages", as: "bob").status == 200)
            #expect(try await server.call(.get, "/healthz", as: nil).status == 200)
        }
    }

    /// A new message is where its `Location` says, for whoever may read its chat; and a retry
    /// of its post answers with it even once the author has been removed from the chat (the
    /// message was posted; the client only missed the answer).
    @Test func aPostedMessageIsWhereItsLocationSaysAndItsRetryOutlivesTheAuthorsRemoval() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice", isPrivate: true)
            try await server.add("bob", to: chat, by: "alice")
            let json = #"{"content":"before I go","messageType":"text","clientMessageId":"r-1"}"#
            let posted = try await server.call(.post, "/chats/\(chat)/messages", as: "bob", json: json)
            #expect(posted.status == 201, "\(posted.text)")
            let location = try #require(posted.headers[.location])
            let fetched = try await server.call(.get, location, as: "alice")
            #expect(fetched.status == 200 && fetched.string("id") == posted.string("id") && fetched.string("content") == "before I go", "\(fetched.text)")
            #expect(try await server.call(.get, location, as: "eve").status == 404, "a private chat's message is not shown to others")

            #expect(try await server.call(.delete, "/chats/\(chat)/members/bob", as: "alice").status == 204)
            let id = try #require(posted.string("id"))
            #expect(try await server.call(.post, "/messages/\(id)/reactions", as: "alice", json: #"{"emoji":"👍"}"#).status == 201)
            let before = server.engine.log.lastPosition
            let retried = try await server.call(.post, "/chats/\(chat)/messages", as: "bob", json: json)
            #expect(retried.status == 201 && retried.string("id") == id, "\(retried.text)")
            // The answer the first attempt got, not the private chat as it is now.
            #expect(retried.text == posted.text, "\(retried.text) against \(posted.text)")
            #expect(server.engine.log.lastPosition == before, "a retry appends nothing")
            let new = try await server.call(.post, "/chats/\(chat)/messages", as: "bob", json: #"{"content":"still here?","messageType":"text","clientMessageId":"r-2"}"#)
            #expect(new.status == 404, "a new post from outside the private chat: \(new.status)")
            // The key sent again with other text: its reuse is what the client must hear of.
            let reused = try await server.call(.post, "/chats/\(chat)/messages", as: "bob", json: #"{"content":"changed my mind","messageType":"text","clientMessageId":"r-1"}"#)
            #expect(reused.status == 409 && reused.string("detail")?.contains("already used for a different message") == true, "\(reused.status) \(reused.text)")
            #expect(server.engine.log.lastPosition == before, "nothing is appended")
        }
    }

    /// The same error is the same bytes each time, its keys sorted as in every other answer.
    @Test func anErrorIsTheSameBytesEachTime() async throws {
        try await TestServer.run { server in
            var bodies = Set<String>()
            for _ in 0..<8 {
                bodies.insert(try await server.call(.get, "/chats/01M8K2XBYD86MX6ASJCQDS77YN", as: "alice").text)
                bodies.insert(try await server.call(.get, "/chats", as: nil).text)
            }
            #expect(bodies.count == 2, "\(bodies)")
            #expect(bodies.allSatisfy { $0.hasPrefix(#"{"detail":"#) && $0.contains(#","status":"#) }, "\(bodies)")
        }
    }

    @Test func aRetriedPostWithTheSameClientIDIsNotPostedTwice() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            let first = try await server.post(chat, as: "alice", "once", clientID: "c-1")
            let second = try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"once","messageType":"text","clientMessageId":"c-1"}"#)
            #expect(second.status == 201 && second.string("id") == first)
            let viaHeader = try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"h","messageType":"text"}"#, headers: [.init("Idempotency-Key")!: "k-9"])
            let viaHeaderAgain = try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"h","messageType":"text"}"#, headers: [.init("Idempotency-Key")!: "k-9"])
            #expect(viaHeader.string("id") == viaHeaderAgain.string("id"))
            // Text that is the same by canonical equivalence is the same request: an accent
            // spelled decomposed in the retry, composed in the first attempt.
            let accented = try await server.post(chat, as: "alice", "caf\u{E9}", clientID: "c-3")
            let accentedAgain = try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"cafe\#u{301}","messageType":"text","clientMessageId":"c-3"}"#)
            #expect(accentedAgain.status == 201 && accentedAgain.string("id") == accented, "\(accentedAgain.text)")
            let page = try await server.call(.get, "/chats/\(chat)/messages", as: "alice")
            #expect((page["messages"] as? [Any])?.count == 3)

            // The same id with other text is a reused id, not a retry: the new message is
            // not silently dropped as if it had been posted.
            let before = server.engine.log.lastPosition
            for json in [#"{"content":"twice?","messageType":"text","clientMessageId":"c-1"}"#,
                         #"{"content":"once","messageType":"image","clientMessageId":"c-1"}"#] {
                let reused = try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: json)
                #expect(reused.status == 409, "\(json): \(reused.status)")
                #expect(reused.string("detail")?.contains("already used for a different message") == true, "\(reused.text)")
            }
            #expect(server.engine.log.lastPosition == before, "a reused id appends nothing")

            // Both ways of giving the key must agree, and an error names the one given.
            let both = try await server.call(
                .post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"b","messageType":"text","clientMessageId":"c-2"}"#,
                headers: [.init("Idempotency-Key")!: "k-2"])
            #expect(both.status == 400 && both.string("detail")?.contains("clientMessageId and the Idempotency-Key header differ") == true, "\(both.text)")
            let agreeing = try await server.call(
                .post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"b","messageType":"text","clientMessageId":"k-9"}"#,
                headers: [.init("Idempotency-Key")!: "k-9"])
            #expect(agreeing.status == 409, "k-9 went with other text: \(agreeing.text)")
            let tooLong = try await server.call(
                .post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"b","messageType":"text"}"#,
                headers: [.init("Idempotency-Key")!: String(repeating: "k", count: 129)])
            #expect(tooLong.status == 400 && tooLong.string("detail") == "Idempotency-Key must be 1–128 code points", "\(tooLong.text)")
            // 128 characters, each an e and a combining accent: 256 code points, as the
            // OpenAPI document's maxLength counts.
            let decomposed = String(repeating: "e\u{301}", count: 128)
            // Header bytes that are not UTF-8 (a browser's é as one Latin-1 byte) are refused,
            // not read as U+FFFD, which made different keys one.
            let body = #"{"content":"b","messageType":"text"}"#
            let latin1 = try await StalledClient.open(port: server.port)
            try await latin1.send(bytes: Array("POST /chats/\(chat)/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(try await server.token("alice"))\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\nIdempotency-Key: k".utf8) + [0xE9] + Array("\r\n\r\n\(body)".utf8))
            let latin1Answer = try await latin1.readUntilEnd()
            #expect(latin1Answer.hasPrefix("HTTP/1.1 400") && latin1Answer.contains("Idempotency-Key must be UTF-8"), "\(latin1Answer)")
            let tooManyCodePoints = try await server.call(
                .post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"b","messageType":"text","clientMessageId":"\#(decomposed)"}"#)
            #expect(tooManyCodePoints.status == 400 && tooManyCodePoints.string("detail") == "clientMessageId must be 1–128 code points", "\(tooManyCodePoints.text)")
            let nul = try await server.call(
                .post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"b","messageType":"text","clientMessageId":"a\u0000b"}"#)
            #expect(nul.status == 400 && nul.string("detail") == "clientMessageId must not hold U+0000 (NUL)", "\(nul.text)")
            var twoKeys = HTTPFields()
            twoKeys.append(HTTPField(name: .init("Idempotency-Key")!, value: "k-9"))
            twoKeys.append(HTTPField(name: .init("Idempotency-Key")!, value: "k-10"))
            let keyTwice = try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"h","messageType":"text"}"#, headers: twoKeys)
            #expect(keyTwice.status == 400 && keyTwice.string("detail")?.contains("given 2 times") == true, "\(keyTwice.text)")
            #expect(server.engine.log.lastPosition == before, "refused posts append nothing")
        }
    }

    /// A chat created again with the same key (a retry after a lost response) is the first
    /// chat, marked as a replay; the key is the caller's own, and names that one request.
    @Test func aRetriedChatCreationWithTheSameKeyCreatesOneChat() async throws {
        try await TestServer.run { server in
            let key: HTTPFields = [.init("Idempotency-Key")!: "new-chat-1"]
            let first = try await server.call(.post, "/chats", as: "alice", json: #"{"name":"once","isPrivate":false}"#, headers: key)
            #expect(first.status == 201 && first.headers[.init("Idempotent-Replayed")!] == nil)
            let before = server.engine.log.lastPosition
            let again = try await server.call(.post, "/chats", as: "alice", json: #"{"name":"once","isPrivate":false}"#, headers: key)
            #expect(again.status == 201 && again.string("id") == first.string("id"))
            #expect(again.headers[.init("Idempotent-Replayed")!] == "true")
            #expect(again.headers[.location] == "/chats/\(first.string("id") ?? "")")
            #expect(server.engine.log.lastPosition == before, "a replay appends nothing")
            let mine = try await server.call(.get, "/chats", as: "alice")
            #expect((mine["chats"] as? [Any])?.count == 1)

            // Another user's same key is theirs; a message posted with it is a reused key,
            // neither a message nor the chat.
            let bobs = try await server.call(.post, "/chats", as: "bob", json: #"{"name":"bob's","isPrivate":false}"#, headers: key)
            #expect(bobs.status == 201 && bobs.string("id") != first.string("id"))
            let chat = try #require(first.string("id"))
            let posted = try await server.call(.post, "/chats/\(chat)/messages", as: "alice", json: #"{"content":"hi","messageType":"text"}"#, headers: key)
            #expect(posted.status == 409, "\(posted.text)")
            // The same key for another chat is refused, not answered with the first chat.
            let other = try await server.call(.post, "/chats", as: "alice", json: #"{"name":"once","isPrivate":true}"#, headers: key)
            #expect(other.status == 409 && other.string("detail")?.contains("different request") == true, "\(other.text)")
            let tooLong = try await server.call(.post, "/chats", as: "alice", json: #"{"name":"x","isPrivate":false}"#, headers: [.init("Idempotency-Key")!: String(repeating: "k", count: 129)])
            #expect(tooLong.status == 400 && tooLong.string("detail")?.contains("Idempotency-Key") == true)
        }
    }

    /// `/readyz` is 503 once the projections have stopped moving for a while, saying how far
    /// behind they are, and 200 again when they catch up; a write being projected as it asks
    /// is not "behind" (it answered 503 a quarter of the time under steady writes).
    @Test func readinessReportsProjectionsThatFellBehind() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            #expect(try await server.call(.get, "/readyz", as: nil).status == 200)
            let hold = CatchUpHold()
            hold.engage(server.engine.projector)
            defer { hold.release() }
            let held = EventEnvelope(actor: UserID(unchecked: "alice"), event: .messagePosted(.init(chat: try ChatID(parsing: chat), content: "held", type: .text)))
            _ = try await server.engine.log.append(EventCodec.encode(held))
            var detail: String?
            let behind = try await eventually(timeout: .seconds(20)) {
                let reply = try await server.call(.get, "/readyz", as: nil)
                detail = reply.string("detail")
                return reply.status == 503
            }
            #expect(behind && detail?.contains("s behind") == true, "\(detail ?? "-")")
            hold.release()
            #expect(try await eventually(timeout: .seconds(20)) { try await server.call(.get, "/readyz", as: nil).status == 200 })
        }
    }

    @Test func readinessAndMetrics() async throws {
        try await TestServer.run { server in
            let chat = try await server.createChat("alice")
            _ = try await server.post(chat, as: "alice", "x")
            #expect(try await server.call(.get, "/readyz", as: nil).status == 200)
            let metrics = try await server.call(.get, "/metrics", as: nil)
            for name in ["chatflow_http_requests_total", "chatflow_http_request_duration_seconds", "chatflow_append_duration_seconds",
                         "chatflow_projector_lag_seconds", "chatflow_websocket_connections", "chatflow_build_info{",
                         "process_start_time_seconds"] {
                #expect(metrics.text.contains(name), "metrics should include \(name)")
            }
            // The process's CPU time is a counter, and counts up from scrape to scrape.
            func cpuSeconds(_ text: String) -> Double? {
                text.split(separator: "\n").first { $0.hasPrefix("process_cpu_seconds_total ") }.flatMap { Double($0.split(separator: " ")[1]) }
            }
            #expect(metrics.text.contains("# TYPE process_cpu_seconds_total counter"), "\(metrics.text.prefix(2000))")
            let first = try #require(cpuSeconds(metrics.text))
            var spin = 0.0
            for index in 0..<2_000_000 { spin += Double(index).squareRoot() }
            let second = try #require(cpuSeconds(try await server.call(.get, "/metrics", as: nil).text))
            #expect(second > first && first > 0, "\(first) then \(second) (\(spin))")
        }
    }
}
