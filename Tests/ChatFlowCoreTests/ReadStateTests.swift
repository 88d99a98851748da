import ChatFlowCore
import ChatFlowStorage
import Testing

@Suite struct ReadStateTests {
    private func unread(_ world: TestWorld, _ user: String, _ chat: ChatID) throws -> Int {
        try world.reader.readMarker(UserID(unchecked: user), chat).unread
    }

    private func lastRead(_ world: TestWorld, _ user: String, _ chat: ChatID) throws -> MessageID? {
        try world.reader.readMarker(UserID(unchecked: user), chat).lastRead
    }

    @Test func unreadCountsOthersMessagesAfterTheMarker() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            try await world.join("bob", chat)
            let b1 = try await world.post("bob", chat, "b1")
            let b2 = try await world.post("bob", chat, "b2")
            try await world.post("bob", chat, "b3")
            try world.catchUp()
            #expect(try unread(world, "alice", chat) == 3)
            #expect(try lastRead(world, "alice", chat) == nil)
            // Posting is reading up to one's own message: what came before is read.
            let a1 = try await world.post("alice", chat, "a1")
            let b4 = try await world.post("bob", chat, "b4")
            try world.catchUp()
            #expect(try unread(world, "alice", chat) == 1)  // b4
            #expect(try lastRead(world, "alice", chat) == a1)
            #expect(try unread(world, "bob", chat) == 0)
            #expect(try lastRead(world, "bob", chat) == b4)

            try await world.markRead("alice", chat, b2)
            try world.catchUp()
            #expect(try unread(world, "alice", chat) == 2)  // b3, b4; not her own a1
            #expect(try lastRead(world, "alice", chat) == b2)

            try await world.markRead("alice", chat, b4)
            let a2 = try await world.post("alice", chat, "a2")
            try world.catchUp()
            #expect(try unread(world, "alice", chat) == 0)
            #expect(try unread(world, "bob", chat) == 1)  // a2: a1 came before his b4

            try await world.markRead("bob", chat, a1)
            try world.catchUp()
            #expect(try unread(world, "bob", chat) == 1)  // a2; b4 is his own
            #expect(try lastRead(world, "alice", chat) == a2)

            // Moving the marker back to an older message counts again what came after it,
            // but for one's own.
            try await world.markRead("alice", chat, b1)
            try world.catchUp()
            #expect(try unread(world, "alice", chat) == 3)  // b2, b3, b4
            #expect(try lastRead(world, "alice", chat) == b1)
            try world.expectVerified()
        }
    }

    @Test func historyFromBeforeJoiningIsNotUnread() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            var history: [MessageID] = []
            for i in 0..<5 { history.append(try await world.post("alice", chat, "before \(i)")) }
            try await world.join("carol", chat)
            try world.catchUp()
            #expect(try unread(world, "carol", chat) == 0)

            try await world.post("alice", chat, "after 0")
            try await world.post("carol", chat, "hi all")
            try await world.post("alice", chat, "after 1")
            try world.catchUp()
            #expect(try unread(world, "carol", chat) == 1)  // after 1: she posted after reading after 0

            // Marking a message from before she joined as read: everything by others after it is unread.
            try await world.markRead("carol", chat, history[2])
            try world.catchUp()
            #expect(try unread(world, "carol", chat) == 4)  // before 3, before 4, after 0, after 1
            try world.expectVerified()
        }
    }

    @Test func leavingDropsTheMarkerAndRejoiningStartsAfresh() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            try await world.join("bob", chat)
            try await world.post("alice", chat, "one")
            try world.catchUp()
            #expect(try unread(world, "bob", chat) == 1)

            try await world.leave("bob", chat)
            let whileAway = try await world.post("alice", chat, "two")
            // A non-member's read marker is ignored.
            try await world.markRead("bob", chat, whileAway)
            try world.catchUp()
            #expect(try unread(world, "bob", chat) == 0)
            #expect(try lastRead(world, "bob", chat) == nil)

            try await world.join("bob", chat)
            try world.catchUp()
            #expect(try unread(world, "bob", chat) == 0)
            try await world.post("alice", chat, "three")
            try world.catchUp()
            #expect(try unread(world, "bob", chat) == 1)
            try world.expectVerified()
        }
    }

    /// A deleted message is no longer unread for anyone who had not read it; one already
    /// read, or one's own, changes nothing; a marker may still move to it.
    @Test func deletedMessagesAreNotUnread() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            try await world.join("bob", chat)
            let a1 = try await world.post("alice", chat, "a1")
            let a2 = try await world.post("alice", chat, "a2")
            let b1 = try await world.post("bob", chat, "b1")
            let a3 = try await world.post("alice", chat, "a3")
            try await world.markRead("bob", chat, a1)
            try await world.markRead("alice", chat, a2)  // back before b1, which her a3 had read
            try world.catchUp()
            #expect(try unread(world, "bob", chat) == 2)  // a2, a3
            #expect(try unread(world, "alice", chat) == 1)  // b1

            try await world.delete("alice", chat, a2)
            try await world.delete("alice", chat, a1)  // already read by bob
            try await world.delete("bob", chat, b1)  // bob's own
            try world.catchUp()
            #expect(try unread(world, "bob", chat) == 1)  // a3
            #expect(try unread(world, "alice", chat) == 0)  // b1 is gone

            try await world.markRead("bob", chat, a2)  // a deleted message still has its place
            try world.catchUp()
            #expect(try unread(world, "bob", chat) == 1)
            try await world.delete("alice", chat, a3)
            try world.catchUp()
            #expect(try unread(world, "bob", chat) == 0)
            try world.expectVerified()
        }
    }

    @Test func aMarkerOnAMessageOfAnotherChatIsIgnored() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            let other = try await world.createChat("alice")
            try await world.join("bob", chat)
            try await world.post("alice", chat, "one")
            try await world.post("alice", chat, "two")
            let elsewhere = try await world.post("alice", other, "three")
            try await world.markRead("bob", chat, elsewhere)
            try world.catchUp()
            #expect(try unread(world, "bob", chat) == 2)
            #expect(try lastRead(world, "bob", chat) == nil)
        }
    }

    @Test func eachOfManyMembersHasTheirOwnCount() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("u0")
            let users = (0..<6).map { "u\($0)" }
            for user in users.dropFirst() { try await world.join(user, chat) }
            // Each user posts i+1 messages, round robin; then user i reads up to message 2i.
            var messages: [(MessageID, String)] = []
            for round in 0..<6 {
                for (i, user) in users.enumerated() where i >= round {
                    messages.append((try await world.post(user, chat, "\(user) round \(round)"), user))
                }
            }
            for (i, user) in users.enumerated() {
                try await world.markRead(user, chat, messages[2 * i].0)
            }
            try world.catchUp()
            for (i, user) in users.enumerated() {
                let expected = messages[(2 * i + 1)...].filter { $0.1 != user }.count
                #expect(try unread(world, user, chat) == expected, "\(user)")
            }
            try world.expectVerified()
        }
    }

    /// Own and deleted messages after a marker are counted per block of positions: markers
    /// on either side of block edges, moved forward and far back, count exactly the others'
    /// messages that are still there, with few deletions after them and with many.
    @Test func aMarkerMovedFarBackCountsAcrossBlocks() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            try await world.join("bob", chat)
            var messages: [(id: MessageID, author: String, deleted: Bool)] = []
            for n in 0..<1_300 {
                let author = n % 3 == 0 || (600..<700).contains(n) ? "alice" : "bob"
                messages.append((try await world.post(author, chat, "m\(n)"), author, false))
            }
            // Every 7th message, and a run across the second block's end: 210 in all.
            for n in messages.indices where n % 7 == 0 || (1_000..<1_040).contains(n) {
                try await world.delete(messages[n].author, chat, messages[n].id)
                messages[n].deleted = true
            }
            // Message n has sequence number n + 1: blocks of 512 end after messages 510 and 1,022.
            for n in [1_299, 0, 510, 511, 1_021, 1_022, 1_023, 650, 5, 1_200, 1_150] {
                try await world.markRead("alice", chat, messages[n].id)
                try await world.markRead("bob", chat, messages[1_299 - n].id)
                try world.catchUp()
                let forAlice = messages[(n + 1)...].filter { $0.author != "alice" && !$0.deleted }.count
                let forBob = messages[(1_300 - n)...].filter { $0.author != "bob" && !$0.deleted }.count
                #expect(try unread(world, "alice", chat) == forAlice, "alice at \(n)")
                #expect(try unread(world, "bob", chat) == forBob, "bob at \(1_299 - n)")
            }
            try world.expectVerified()
        }
    }
}
