@testable import ChatFlowCore
import ChatFlowStorage
import Testing

/// The `user_messages` key layouts: each decodes to what built it, and an author's
/// messages sort by id, in every chat and in one, apart from other authors' and chats'.
@Suite struct UserIndexKeysTests {
    private let older = MessageID(ULID(high: 1, low: 5))
    private let newer = MessageID(ULID(high: 2, low: 0))
    private let chat = ChatID(ULID(high: 7, low: 7))
    private let otherChat = ChatID(ULID(high: 7, low: 8))

    @Test func entriesRoundTrip() {
        #expect(UserIndexKeys.decodeEntry(UserIndexKeys.entry(UserID(unchecked: "alice"), older)) == older)
        #expect(UserIndexKeys.decodeChatEntry(UserIndexKeys.chatEntry(chat, UserID(unchecked: "alice"), newer)) == newer)
        let value = UserIndexKeys.authorValue(chat, UserID(unchecked: "bob"))
        #expect(UserIndexKeys.decodeAuthorValue(value).map { [$0.chat.description, $0.user.rawValue] } == [chat.description, "bob"])
        // One layout is never read as another.
        #expect(UserIndexKeys.decodeEntry(UserIndexKeys.chatEntry(chat, UserID(unchecked: "alice"), newer)) == nil)
        #expect(UserIndexKeys.decodeChatEntry(UserIndexKeys.entry(UserID(unchecked: "alice"), older)) == nil)
    }

    @Test func entriesSortByMessageWithinTheirPrefix() {
        let alice = UserID(unchecked: "alice")
        let al = UserID(unchecked: "al")
        #expect(UserIndexKeys.chatEntry(chat, alice, older).lexicographicallyPrecedes(UserIndexKeys.chatEntry(chat, alice, newer)))
        #expect(UserIndexKeys.entry(alice, older).lexicographicallyPrecedes(UserIndexKeys.entry(alice, newer)))
        // A user whose id starts another's is apart from it (ids end in a terminator).
        let prefix = UserIndexKeys.chatUserPrefix(chat, al)
        #expect(!UserIndexKeys.chatEntry(chat, alice, older).starts(with: prefix))
        #expect(UserIndexKeys.chatEntry(chat, al, newer).starts(with: prefix))
        #expect(!UserIndexKeys.chatEntry(otherChat, al, newer).starts(with: prefix))
        #expect(!UserIndexKeys.entry(alice, older).starts(with: UserIndexKeys.userPrefix(al)))
    }
}
