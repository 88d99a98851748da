import ChatFlowCore
import ChatFlowStorage
import Testing

@Suite struct ReactionsTests {
    /// The same events give the same reactions whether the projector applies them one at a
    /// time or all in one batch (where later events read earlier ones' rows from the batch).
    @Test(arguments: [true, false])
    func countsAreTheNetOfAddsAndRemoves(catchingUpAfterEachEvent: Bool) async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            let message = try await world.post("alice", chat, "lunch?")
            let other = try await world.post("alice", chat, "dinner?")
            let steps: [(String, String, Bool)] = [  // (user, emoji, add)
                ("alice", "👍", true), ("alice", "👍", true),  // adding twice is a no-op
                ("bob", "🎉", true), ("bob", "🎉", false),  // back to zero
                ("dave", "👍", false),  // removing an absent one is a no-op
                ("carol", "👍", true), ("bob", "🚀", true), ("dave", "🚀", true),
                ("bob", "❤️", true), ("bob", "❤️", false), ("bob", "❤️", false), ("bob", "❤️", true),
                ("erin", "👍", true), ("carol", "🎉", true), ("carol", "🎉", false),
            ]
            for (user, emoji, add) in steps {
                if add {
                    try await world.react(user, chat, message, emoji)
                } else {
                    try await world.unreact(user, chat, message, emoji)
                }
                if catchingUpAfterEachEvent { try world.catchUp() }
            }
            try await world.react("bob", chat, other, "👍")
            try world.catchUp()

            let counts = ["👍": 3, "🚀": 2, "❤️": 1]
            #expect(try world.reader.reactionCounts(message) == counts)
            #expect(try world.reader.message(message)?.reactions == counts)
            #expect(try world.reader.reactionCounts(other) == ["👍": 1])

            // Most used first; users in id order; whether the viewer is among them.
            let forBob = try world.reader.reactions(message, viewer: UserID(unchecked: "bob"))
            #expect(forBob.map(\.emoji) == ["👍", "🚀", "❤️"])
            #expect(forBob.map(\.count) == [3, 2, 1])
            #expect(forBob.map(\.users) == [["alice", "carol", "erin"], ["bob", "dave"], ["bob"]])
            #expect(forBob.map(\.reactedByMe) == [false, true, true])
            let forAlice = try world.reader.reactions(message, viewer: UserID(unchecked: "alice"))
            #expect(forAlice.map(\.reactedByMe) == [true, false, false])
            #expect(try world.reader.hasReacted(UserID(unchecked: "erin"), message, "👍"))
            #expect(try !world.reader.hasReacted(UserID(unchecked: "bob"), message, "🎉"))
            #expect(try !world.reader.hasReacted(UserID(unchecked: "dave"), message, "👍"))
            try world.expectVerified()
        }
    }

    @Test func aRemovedReactionCanBeAddedAgain() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            let message = try await world.post("alice", chat, "hello")
            try await world.react("bob", chat, message, "👀")
            try await world.unreact("bob", chat, message, "👀")
            try world.catchUp()
            #expect(try world.reader.reactionCounts(message) == [:])
            #expect(try world.reader.reactions(message, viewer: UserID(unchecked: "bob")).isEmpty)

            try await world.react("bob", chat, message, "👀")
            try world.catchUp()
            #expect(try world.reader.reactionCounts(message) == ["👀": 1])
            let summary = try world.reader.reactions(message, viewer: UserID(unchecked: "bob"))
            #expect(summary.map(\.emoji) == ["👀"])
            #expect(summary.map(\.count) == [1])
            #expect(summary.map(\.users) == [["bob"]])
            #expect(summary.map(\.reactedByMe) == [true])
        }
    }

    @Test func emojiThatShareAPrefixStayApart() async throws {
        // "👍🏽" is "👍" followed by a skin tone: keys must not run one into the other.
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            let message = try await world.post("alice", chat, "hello")
            try await world.react("bob", chat, message, "👍")
            try await world.react("carol", chat, message, "👍🏽")
            try await world.react("dave", chat, message, "👍🏽")
            try await world.unreact("bob", chat, message, "👍🏽")
            try world.catchUp()
            #expect(try world.reader.reactionCounts(message) == ["👍": 1, "👍🏽": 2])
            let summary = try world.reader.reactions(message, viewer: UserID(unchecked: "bob"))
            #expect(summary.map(\.users) == [["carol", "dave"], ["bob"]])
            #expect(summary.map(\.reactedByMe) == [false, true])
        }
    }

    /// Events logged before reactions were kept fully qualified may hold another form of an
    /// emoji: it counts as that emoji, and removing either form removes it.
    @Test func formsOfOneEmojiCountAsOne() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            let message = try await world.post("alice", chat, "hello")
            try await world.react("bob", chat, message, "👍\u{FE0F}")
            try await world.react("carol", chat, message, "👍")
            try await world.react("carol", chat, message, "👍\u{FE0F}")  // the same reaction again
            try await world.react("dave", chat, message, "1\u{20E3}")
            try await world.react("erin", chat, message, "1️⃣")
            try await world.unreact("bob", chat, message, "👍")
            try await world.unreact("erin", chat, message, "1\u{20E3}")
            try await world.react("frank", chat, message, "❤")  // the heart without its selector
            try await world.react("gina", chat, message, "❤️")
            try world.catchUp()
            #expect(try world.reader.reactionCounts(message) == ["👍": 1, "1️⃣": 1, "❤️": 2])
            let summary = try world.reader.reactions(message, viewer: UserID(unchecked: "carol"))
            #expect(Set(summary.map(\.users)) == [["carol"], ["dave"], ["frank", "gina"]], "\(summary)")
            try world.expectVerified()
        }
    }
}
