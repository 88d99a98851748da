/// Who is in which chat, which user each WebSocket connection signs in as, and who posts
/// each message.
///
/// Chat `c` has the members `(c·M + j) mod N` for `j < M`, the first being its owner, so
/// chats share no members until `C·M` exceeds `N`. Connection `k` signs in as user
/// `k mod N` and subscribes to all of that user's chats. Message `s` goes to chat `s mod C`
/// and is posted by its members in turn, which spreads the posts (and so any per-user rate
/// limit) evenly over every user that is in a chat.
struct LoadPlan: Sendable {
    let users: [String]
    /// Per chat, its members as user indices; the first is the owner.
    let members: [[Int]]
    /// Per user, the chats it is in.
    let chatsOfUser: [[Int]]
    /// Per WebSocket connection, the user it signs in as.
    let userOfConnection: [Int]
    /// Per chat, the connections subscribed to it: the deliveries each of its messages makes.
    let subscribers: [Int]

    init(run: String, users userCount: Int, chats: Int, members perChat: Int, connections: Int) {
        users = (0..<userCount).map { "lt-\(run)-u\($0)" }
        members = (0..<chats).map { chat in (0..<perChat).map { (chat * perChat + $0) % userCount } }
        var chatsOfUser = [[Int]](repeating: [], count: userCount)
        for (chat, list) in members.enumerated() {
            for user in list { chatsOfUser[user].append(chat) }
        }
        self.chatsOfUser = chatsOfUser
        userOfConnection = (0..<connections).map { $0 % userCount }
        var subscribers = [Int](repeating: 0, count: chats)
        for user in userOfConnection {
            for chat in chatsOfUser[user] { subscribers[chat] += 1 }
        }
        self.subscribers = subscribers
    }

    var chatCount: Int { members.count }

    func chat(ofMessage sequence: Int) -> Int { sequence % members.count }

    func poster(ofMessage sequence: Int) -> Int {
        let list = members[chat(ofMessage: sequence)]
        return list[(sequence / members.count) % list.count]
    }

    /// Users that post at all: those in at least one chat.
    var posters: Int { chatsOfUser.filter { !$0.isEmpty }.count }
}
