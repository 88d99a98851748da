/// A client → server frame: `subscribe`, `unsubscribe`, `typing` or `ping`.
struct ClientOperation: Decodable {
    let op: String
    let channel: String?
    let since: String?
    let chatId: String?
}
