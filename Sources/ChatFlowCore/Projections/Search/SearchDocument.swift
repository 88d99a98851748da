import ChatFlowStorage

/// The indexed form of one message: `chat(16) ‖ count(varint) ‖ term×count`, terms unique
/// and in first-seen order.
struct SearchDocument: Equatable {
    var chat: ChatID
    var terms: [String]

    func encoded() -> [UInt8] {
        RecordCoding.encode { w in
            w.writeULID(chat.ulid)
            w.writeVarint(UInt64(terms.count))
            for term in terms { w.writeString(term) }
        }
    }

    init(chat: ChatID, terms: [String]) {
        self.chat = chat
        self.terms = terms
    }

    init(decoding bytes: [UInt8]) throws(StorageError) {
        self = try RecordCoding.decode(bytes, "search document") { r throws(EventCodecError) in
            let chat = ChatID(try r.readULID("chat"))
            let count = try r.readVarint("count")
            var terms: [String] = []
            for _ in 0..<count { terms.append(try r.readString("term")) }
            return SearchDocument(chat: chat, terms: terms)
        }
    }

    /// The distinct terms of a text, in first-seen order.
    static func terms(of content: String) -> [String] {
        var seen = Set<String>()
        return Tokenizer.terms(content).filter { seen.insert($0).inserted }
    }
}
