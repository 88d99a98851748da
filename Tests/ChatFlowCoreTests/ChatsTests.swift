import ChatFlowCore
import ChatFlowStorage
import Testing

@Suite struct ChatsTests {
    private func user(_ name: String) -> UserID { UserID(unchecked: name) }

    @Test func aChatCountsItsMembers() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice", name: "Launch", description: "ship it", isPrivate: true)
            try world.catchUp()
            let created = try #require(try world.reader.chat(chat))
            #expect(created.id == chat.description)
            #expect(created.name == "Launch")
            #expect(created.description == "ship it")
            #expect(created.isPrivate)
            #expect(created.createdBy == "alice")
            #expect(created.createdAt == "2026-01-01T00:00:00.000Z")
            #expect(created.memberCount == 1)

            for name in ["bob", "carol", "dave"] { try await world.join(name, chat) }
            try await world.join("bob", chat)  // already a member: no change
            try world.catchUp()
            #expect(try world.reader.chat(chat)?.memberCount == 4)

            try await world.leave("carol", chat)
            try await world.leave("erin", chat)  // not a member: no change
            try await world.leave("dave", chat, by: "alice")  // removed by the owner
            try world.catchUp()
            #expect(try world.reader.chat(chat)?.memberCount == 2)
            #expect(try world.reader.role(of: user("alice"), in: chat) == .owner)
            #expect(try world.reader.role(of: user("bob"), in: chat) == .member)
            #expect(try world.reader.role(of: user("carol"), in: chat) == nil)
            #expect(try world.reader.role(of: user("dave"), in: chat) == nil)

            try await world.append("alice", .chatUpdated(.init(chat: chat, name: "Launched")))
            try await world.append("alice", .chatUpdated(.init(chat: chat, isPrivate: false)))
            try world.catchUp()
            let updated = try #require(try world.reader.chat(chat))
            #expect(updated.name == "Launched")
            #expect(updated.description == "ship it")
            #expect(!updated.isPrivate)
            #expect(updated.memberCount == 2)
            #expect(try world.reader.chat(ChatID(.first(atMillisecond: TestTime.jan1))) == nil)
            try world.expectVerified()
        }
    }

    @Test(arguments: [7, 9, 1, 100])
    func membersPageInUserOrder(limit: Int) async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            let other = try await world.createChat("zed")
            var joined: [String: UInt64] = ["alice": TestTime.jan1]
            // Some ids are prefixes of others: "u1" < "u1-" < "u1.x" < "u10".
            var names = (0..<24).map { "u\($0 < 10 ? "0" : "")\($0)" } + ["u1", "u1.x", "u1-"]
            var random = SplitMix64(seed: 3)
            names.shuffle(using: &random)
            for (i, name) in names.enumerated() {
                let time = TestTime.jan1 + UInt64(i + 1) * 60_000
                clock.set(time)
                try await world.join(name, chat)
                try await world.join(name, other)
                joined[name] = time
            }
            try await world.leave("u13", chat)
            joined["u13"] = nil
            try world.catchUp()

            let walked = try walkPages(limit: limit) { try world.reader.members(of: chat, cursor: $0, limit: limit) }
            #expect(walked.items.map(\.userId) == joined.keys.sorted())
            #expect(walked.items.count == 27)
            #expect(walked.pages == (27 + limit - 1) / limit)
            #expect(walked.items.allSatisfy { $0.chatId == chat.description })
            #expect(walked.items.map(\.role) == walked.items.map { $0.userId == "alice" ? "owner" : "member" })
            let u07 = try #require(walked.items.first { $0.userId == "u07" })
            #expect(u07 == (try world.reader.member(user("u07"), of: chat)))
            #expect(try world.reader.member(user("u13"), of: chat) == nil)
            let minute = names.firstIndex(of: "u07")! + 1
            #expect(u07.joinedAt == "2026-01-01T00:\(minute < 10 ? "0" : "")\(minute):00.000Z")

            if limit < 27 {
                let cursor = try #require(try world.reader.members(of: chat, cursor: nil, limit: limit).nextCursor)
                expectInvalid("a members cursor of one chat in another") { try world.reader.members(of: other, cursor: cursor, limit: limit) }
                expectInvalid("a members cursor for a timeline") { try world.reader.messages(in: chat, cursor: cursor, limit: limit, direction: .older) }
            }
        }
    }

    @Test func aUsersChatsCarryUnreadCountsAndTheLastMessage() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let c1 = try await world.createChat("alice", name: "one")
            let c2 = try await world.createChat("bob", name: "two", isPrivate: true)
            let c3 = try await world.createChat("carol", name: "three")
            let c4 = try await world.createChat("carol", name: "four")
            try await world.join("bob", c1)
            try await world.join("bob", c3, by: "carol")
            try await world.join("alice", c2, by: "bob")
            try await world.post("alice", c1, "hello one")
            let read = try await world.post("alice", c1, "still one")
            clock.set(TestTime.jan1 + TestTime.hour)
            try await world.post("carol", c1, "carol is not in c1 but posts")  // counted by others' messages
            try await world.post("bob", c1, "bob in one")
            let newestInC1 = try await world.post("alice", c1, "newest in one")
            let bobAlone = try await world.post("bob", c2, "bob alone")
            try await world.post("carol", c4, "bob is not here")
            try await world.markRead("bob", c1, read)
            try world.catchUp()

            let chats = try world.reader.chats(of: user("bob"))
            #expect(chats.map(\.id) == [c1, c2, c3].map(\.description))  // oldest first, not c4
            #expect(chats.map(\.name) == ["one", "two", "three"])
            #expect(chats.map(\.role) == ["member", "owner", "member"])
            #expect(chats.map(\.memberCount) == [2, 2, 2])
            #expect(chats.map(\.isPrivate) == [false, true, false])
            #expect(chats.map(\.unreadCount) == [2, 0, 0])  // carol's and alice's newest; not his own
            // Posting reads up to one's own message; moving the marker back is kept.
            #expect(chats.map(\.lastReadMessageId) == [read.description, bobAlone.description, nil])
            #expect(chats[0].lastMessage?.id == newestInC1.description)
            #expect(chats[0].lastMessage?.content == "newest in one")
            #expect(chats[0].lastMessage?.createdAt == "2026-01-01T01:00:00.000Z")
            #expect(chats[1].lastMessage?.content == "bob alone")
            #expect(chats[2].lastMessage == nil)

            // The newest message deleted: it is still the last one, as a tombstone.
            try await world.delete("alice", c1, newestInC1)
            try world.catchUp()
            let afterDelete = try world.reader.chats(of: user("bob"))
            #expect(afterDelete[0].lastMessage?.id == newestInC1.description)
            #expect(afterDelete[0].lastMessage?.deleted == true)
            try world.expectVerified()
        }
    }

    /// An owner who leaves hands the chat to the member there longest (the lower user id
    /// on a tie), who may then remove others; the last member leaving leaves no owner, and
    /// the first to join the empty chat takes it over. A rebuild decides the same.
    @Test func anOwnerWhoLeavesHandsTheChatToTheLongestMember() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            clock.set(TestTime.jan1 + 1000)
            try await world.join("dave", chat)
            try await world.join("carol", chat)  // the same millisecond as dave: carol < dave
            clock.set(TestTime.jan1 + 2000)
            try await world.join("bob", chat)
            try world.catchUp()

            try await world.leave("alice", chat)
            try world.catchUp()
            #expect(try world.reader.role(of: user("alice"), in: chat) == nil)
            #expect(try world.reader.role(of: user("carol"), in: chat) == .owner)
            #expect(try world.reader.role(of: user("dave"), in: chat) == .member)
            #expect(try world.reader.chat(chat)?.memberCount == 3)

            try await world.leave("carol", chat)
            try world.catchUp()
            #expect(try world.reader.role(of: user("dave"), in: chat) == .owner)
            try await world.leave("bob", chat, by: "dave")
            try await world.leave("dave", chat)
            try world.catchUp()
            #expect(try world.reader.chat(chat)?.memberCount == 0)

            try await world.join("erin", chat)
            try await world.join("frank", chat)
            try world.catchUp()
            #expect(try world.reader.role(of: user("erin"), in: chat) == .owner)
            #expect(try world.reader.role(of: user("frank"), in: chat) == .member)
            try world.expectVerified()
        }
    }

    @Test func leavingRemovesTheChatFromTheUsersList() async throws {
        try await withWorld { world in
            let c1 = try await world.createChat("alice")
            let c2 = try await world.createChat("alice")
            for chat in [c1, c2] {
                try await world.join("bob", chat)
                try await world.join("carol", chat)
            }
            try await world.leave("bob", c1)
            try await world.leave("carol", c2, by: "alice")
            try world.catchUp()
            #expect(try world.reader.chats(of: user("bob")).map(\.id) == [c2.description])
            #expect(try world.reader.chats(of: user("carol")).map(\.id) == [c1.description])
            #expect(try world.reader.chats(of: user("alice")).map(\.memberCount) == [2, 2])
            #expect(try world.reader.members(of: c1, cursor: nil, limit: 10).items.map(\.userId) == ["alice", "carol"])
            #expect(try world.reader.member(user("bob"), of: c1) == nil)

            // Joining again brings it back, once.
            try await world.join("bob", c1)
            try await world.join("bob", c1)
            try world.catchUp()
            #expect(try world.reader.chats(of: user("bob")).map(\.id) == [c1.description, c2.description])
            #expect(try world.reader.chat(c1)?.memberCount == 3)
            try world.expectVerified()
        }
    }

    @Test func theDirectoryListsPublicChatsNewestFirstInPages() async throws {
        try await withWorld { world in
            var publicChats: [ChatID] = []
            for i in 0..<7 {
                publicChats.append(try await world.createChat("alice", name: "open \(i)"))
                _ = try await world.createChat("bob", name: "secret \(i)", isPrivate: true)
            }
            // A chat made private leaves the directory; a private chat made public enters it.
            try await world.append("alice", .chatUpdated(.init(chat: publicChats[2], isPrivate: true)))
            let opened = try await world.createChat("carol", name: "was private", isPrivate: true)
            try await world.append("carol", .chatUpdated(.init(chat: opened, isPrivate: false)))
            try world.catchUp()

            let walked = try walkPages(limit: 3) { try world.reader.publicChats(cursor: $0, limit: 3) }
            let expected = [opened] + publicChats.filter { $0 != publicChats[2] }.reversed()
            #expect(walked.items.map(\.id) == expected.map(\.description))
            #expect(walked.items.allSatisfy { !$0.isPrivate })
            #expect(walked.pages == 3)
            expectInvalid("a members cursor") {
                try world.reader.publicChats(cursor: try world.reader.members(of: opened, cursor: nil, limit: 1).nextCursor ?? "x", limit: 3)
            }
            try world.expectVerified()
        }
    }
}
