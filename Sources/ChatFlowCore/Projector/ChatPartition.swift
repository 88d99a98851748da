/// One of `count` shares of the chats, by the random bits of each chat's id: events of
/// different chats touch different rows of a projection such as search, so its shares can
/// be replayed side by side and together make the rows one replay makes.
struct ChatPartition: Sendable {
    let index: Int
    let count: Int

    func holds(_ event: LoggedEvent) -> Bool {
        // A chat's creation is the one event whose chat is its own id.
        let chat = event.event.chat ?? ChatID(event.id)
        return Int(chat.ulid.low % UInt64(count)) == index
    }
}
