import ChatFlowCore

/// A page of a list as the API answers it: `{<items>: [...], nextCursor}`, with
/// `nextCursor: null` at the end. `items` names the list (`messages`, `members`, `chats`).
struct ListPage<Item: Encodable & Sendable>: Encodable {
    let items: String
    let page: Page<Item>

    init(_ items: String, _ page: Page<Item>) {
        self.items = items
        self.page = page
    }

    private struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(page.items, forKey: Key(items))
        // Encoded explicitly so that the end of the list is `null`, not a missing key.
        try c.encode(page.nextCursor, forKey: Key("nextCursor"))
    }
}
