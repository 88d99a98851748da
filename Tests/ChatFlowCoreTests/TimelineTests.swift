import ChatFlowCore
import ChatFlowStorage
import Testing

@Suite struct TimelineTests {
    private func page(_ world: TestWorld, _ chat: ChatID, _ direction: ChatFlowReader.Direction, limit: Int, cursor: String? = nil) throws -> Page<MessageView> {
        try world.reader.messages(in: chat, cursor: cursor, limit: limit, direction: direction)
    }

    @Test func olderAndNewerPagesVisitEveryMessageOnceInOrder() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            let other = try await world.createChat("bob")
            try await world.join("bob", chat)
            var posted: [MessageID] = []
            for i in 0..<137 {
                posted.append(try await world.post(i % 3 == 0 ? "bob" : "alice", chat, "message \(i)"))
                // Another chat's messages sit between these ids and must not leak in.
                if i % 10 == 0 { try await world.post("bob", other, "elsewhere \(i)") }
            }
            try world.catchUp()

            for limit in [1, 10, 50, 137, 200] {
                let older = try walkPages(limit: limit) { try page(world, chat, .older, limit: limit, cursor: $0) }
                #expect(older.items.map(\.id) == posted.reversed().map(\.description), "older, limit \(limit)")
                #expect(older.pages == (137 + limit - 1) / limit, "older, limit \(limit): no empty last page")
                #expect(older.items.map(\.content) == (0..<137).reversed().map { "message \($0)" })

                let newer = try walkPages(limit: limit) { try page(world, chat, .newer, limit: limit, cursor: $0) }
                #expect(newer.items.map(\.id) == posted.map(\.description), "newer, limit \(limit)")
                #expect(newer.pages == (137 + limit - 1) / limit, "newer, limit \(limit): no empty last page")
            }
            let first = try page(world, chat, .older, limit: 3)
            #expect(first.items.allSatisfy { $0.chatId == chat.description && $0.messageType == "text" && !$0.deleted })
            #expect(first.items.map(\.userId) == ["alice", "bob", "alice"])  // messages 136, 135, 134
        }
    }

    @Test func anEmptyChatHasOneEmptyPage() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            try world.catchUp()
            for direction in [ChatFlowReader.Direction.older, .newer] {
                let empty = try page(world, chat, direction, limit: 10)
                #expect(empty.items.isEmpty)
                #expect(empty.nextCursor == nil)
            }
        }
    }

    @Test func aCursorOnlyContinuesItsOwnList() async throws {
        try await withWorld { world in
            let a = try await world.createChat("alice")
            let b = try await world.createChat("alice")
            for i in 0..<5 {
                try await world.post("alice", a, "a \(i)")
                try await world.post("alice", b, "b \(i)")
            }
            try world.catchUp()
            let older = try #require(try page(world, a, .older, limit: 2).nextCursor)
            let newer = try #require(try page(world, a, .newer, limit: 2).nextCursor)

            // The cursors work where they came from.
            #expect(try page(world, a, .older, limit: 2, cursor: older).items.map(\.content) == ["a 2", "a 1"])
            #expect(try page(world, a, .newer, limit: 2, cursor: newer).items.map(\.content) == ["a 2", "a 3"])

            expectInvalid("an older-cursor of chat A in chat B") { try page(world, b, .older, limit: 2, cursor: older) }
            expectInvalid("a newer-cursor of chat A in chat B") { try page(world, b, .newer, limit: 2, cursor: newer) }
            expectInvalid("an older-cursor for newer pages") { try page(world, a, .newer, limit: 2, cursor: older) }
            expectInvalid("a newer-cursor for older pages") { try page(world, a, .older, limit: 2, cursor: newer) }
            let search = try #require(try world.reader.search(in: a, query: SearchQuery.parse("a"), cursor: nil, limit: 1).nextCursor)
            expectInvalid("a search cursor for the timeline") { try page(world, a, .older, limit: 2, cursor: search) }
            expectInvalid("a made-up cursor") { try page(world, a, .older, limit: 2, cursor: "bm90IGEgY3Vyc29y") }
            expectInvalid("a cursor that is not a time") { try page(world, a, .older, limit: 2, cursor: "2026-13-01") }
        }
    }

    @Test func aTimeCursorJumpsToThatTime() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            var byDay: [[MessageID]] = [[], [], []]
            for day in 0..<3 {
                for hour in 1...3 {
                    clock.set(TestTime.jan1 + UInt64(day) * TestTime.day + UInt64(hour) * TestTime.hour)
                    byDay[day].append(try await world.post("alice", chat, "day \(day + 1) hour \(hour)"))
                }
            }
            try world.catchUp()

            // older: strictly before the time, newest first; newer: at or after it, oldest first.
            for cursor in ["2026-01-02", "2026-01-02T00:00:00Z", "2026-01-02T01:00:00+01:00"] {
                let before = try walkPages(limit: 2) { try page(world, chat, .older, limit: 2, cursor: $0 ?? cursor) }
                #expect(before.items.map(\.id) == byDay[0].reversed().map(\.description), "older from \(cursor)")
                let after = try walkPages(limit: 2) { try page(world, chat, .newer, limit: 2, cursor: $0 ?? cursor) }
                #expect(after.items.map(\.id) == (byDay[1] + byDay[2]).map(\.description), "newer from \(cursor)")
            }
            // A time equal to a message's own time: newer includes it, older does not.
            let exact = "2026-01-02T02:00:00.000Z"
            #expect(try page(world, chat, .newer, limit: 1, cursor: exact).items.map(\.id) == [byDay[1][1].description])
            #expect(try page(world, chat, .older, limit: 1, cursor: exact).items.map(\.id) == [byDay[1][0].description])
            #expect(try page(world, chat, .older, limit: 1, cursor: exact).items.first?.createdAt == "2026-01-02T01:00:00.000Z")
            // Before everything and after everything.
            #expect(try page(world, chat, .older, limit: 10, cursor: "2025-12-31").items.isEmpty)
            #expect(try page(world, chat, .newer, limit: 10, cursor: "2026-02-01").items.isEmpty)
            #expect(try page(world, chat, .newer, limit: 10, cursor: "2025-12-31").items.count == 9)
        }
    }

    @Test func editsReplaceTheContentAndSetEditedAt() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            let edited = try await world.post("alice", chat, "first draft")
            let untouched = try await world.post("alice", chat, "leave me alone")
            clock.set(TestTime.jan1 + 5 * 60_000)
            try await world.edit("alice", chat, edited, "second draft")
            try world.catchUp()

            var view = try #require(try world.reader.message(edited))
            #expect(view.content == "second draft")
            #expect(view.createdAt == "2026-01-01T00:00:00.000Z")
            #expect(view.editedAt == "2026-01-01T00:05:00.000Z")
            #expect(try world.reader.message(untouched)?.editedAt == nil)
            #expect(try world.reader.message(untouched)?.content == "leave me alone")

            clock.set(TestTime.jan1 + TestTime.hour)
            try await world.edit("alice", chat, edited, "final text")
            try world.catchUp()
            view = try #require(try world.reader.message(edited))
            #expect(view.content == "final text")
            #expect(view.editedAt == "2026-01-01T01:00:00.000Z")
            // The page shows the same, in the message's original place.
            let page = try page(world, chat, .newer, limit: 10)
            #expect(page.items.map(\.content) == ["final text", "leave me alone"])
            #expect(page.items.map(\.editedAt) == ["2026-01-01T01:00:00.000Z", nil])
            try world.expectVerified()
        }
    }

    @Test func deletesLeaveATombstone() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            try await world.join("bob", chat)
            let first = try await world.post("bob", chat, "one")
            let doomed = try await world.post("bob", chat, "two, regretted")
            let last = try await world.post("alice", chat, "three")
            try await world.react("alice", chat, doomed, "👍")
            try await world.react("alice", chat, last, "🎉")
            try await world.edit("bob", chat, doomed, "two, regretted more")
            // The owner deletes bob's message.
            try await world.delete("alice", chat, doomed)
            try world.catchUp()

            let tombstone = try #require(try world.reader.message(doomed))
            #expect(tombstone.deleted)
            #expect(tombstone.content == "")
            #expect(tombstone.reactions == [:])
            #expect(tombstone.userId == "bob")
            #expect(tombstone.createdAt == "2026-01-01T00:00:00.000Z")
            // Nor that it was edited.
            #expect(tombstone.editedAt == nil)
            #expect(try world.reader.message(last)?.reactions == ["🎉": 1])

            // It keeps its place in the timeline.
            let page = try page(world, chat, .older, limit: 10)
            #expect(page.items.map(\.id) == [last, doomed, first].map(\.description))
            #expect(page.items.map(\.deleted) == [false, true, false])
            // It leaves the author's own list.
            #expect(try world.reader.messages(by: UserID(unchecked: "bob"), cursor: nil, limit: 10).items.map(\.id) == [first.description])

            // An edit after the delete does not bring it back; nor does a second delete change it.
            clock.set(TestTime.jan1 + TestTime.hour)
            try await world.edit("bob", chat, doomed, "resurrected")
            try await world.delete("bob", chat, doomed)
            try world.catchUp()
            #expect(try world.reader.message(doomed) == tombstone)
            try world.expectVerified()
        }
    }

    @Test func aUsersOwnMessagesPageAcrossChatsNewestFirst() async throws {
        try await withWorld { world in
            let a = try await world.createChat("alice")
            let b = try await world.createChat("alice")
            var mine: [MessageID] = []
            for i in 0..<23 {
                mine.append(try await world.post("alice", i % 2 == 0 ? a : b, "mine \(i)"))
                try await world.post("bob", a, "not mine \(i)")
            }
            try world.catchUp()
            let walked = try walkPages(limit: 5) { try world.reader.messages(by: UserID(unchecked: "alice"), cursor: $0, limit: 5) }
            #expect(walked.items.map(\.id) == mine.reversed().map(\.description))
            #expect(Set(walked.items.map(\.chatId)) == [a.description, b.description])
        }
    }
}
