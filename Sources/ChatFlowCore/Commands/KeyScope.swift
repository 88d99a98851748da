import ChatFlowStorage

/// Where a user's idempotency keys are recorded, by kind of request. One key names one
/// request whatever its kind: a key recorded in one scope is a reused key in the others
/// (`IdempotencyKey.siblingScopes`), so the records stay apart only so that a key reused
/// across kinds never answers with the other kind of thing.
enum KeyScope: CaseIterable {
    /// Posting a message (`clientMessageId` or `Idempotency-Key`).
    case posts
    /// Creating a chat.
    case chats
    /// Every other write.
    case writes

    /// The scope's name in the log's records. Posts had theirs first, as the bare user id;
    /// user ids cannot hold a '/', so the others never meet one.
    func name(for user: UserID) -> String {
        switch self {
        case .posts: user.rawValue
        case .chats: user.rawValue + "/chats"
        case .writes: user.rawValue + "/writes"
        }
    }
}
