import ChatFlowStorage

extension ChatFlowReader {
    /// Candidates examined per request at most; past it the page ends early with a cursor
    /// that continues exactly where the scan stopped, so no match is skipped or repeated.
    static let searchScanBudget = 50_000

    /// The most terms of one prefix whose postings a search merges.
    static let maxMergedTerms = 256

    /// One page of a chat's messages matching `query`, newest first.
    ///
    /// The longest exact term drives the scan (its postings, newest first); the other terms
    /// are point lookups on the postings, prefixes are checked against the message's indexed
    /// terms, phrases against its text, and filters against its row. Without an exact term a
    /// prefix drives (a merge of the postings of every term with that prefix, when there are
    /// at most `maxMergedTerms`), and otherwise the author's own messages or the timeline do.
    public func search(in chat: ChatID, query: SearchQuery, cursor: String?, limit: Int) throws -> Page<MessageView> {
        var upper = ULID.max
        if let before = query.before { upper = .first(atMillisecond: before) }
        if let cursor {
            switch try PageCursor.decode(cursor, kind: .search, scope: chat.ulid, allowTime: true).position {
            case .message(let id): upper = Swift.min(upper, id)
            case .time(let ms): upper = Swift.min(upper, .first(atMillisecond: ms))
            case .member: throw ChatFlowError.invalid("cursor is damaged")
            }
        }
        let lower = query.after.map { ULID.first(atMillisecond: $0) } ?? .zero
        let required = query.requiredTerms
        let from = query.from.map(UserID.init(unchecked:))

        var candidates = try candidateScan(chat, required: required, prefixes: query.prefixes, from: from, lower: lower, upper: upper)
        var matches: [MessageView] = []
        var examined = 0
        var lastExamined: ULID?
        while let message = try candidates.next() {
            if matches.count == limit {
                return Page(items: matches, nextCursor: cursorAfter(matches.last!.id, chat))
            }
            examined += 1
            lastExamined = message.ulid
            if let view = try match(message, chat, query: query, required: required, from: from) {
                matches.append(view)
            }
            if examined >= Self.searchScanBudget && matches.count < limit {
                return Page(items: matches, nextCursor: PageCursor(kind: .search, scope: chat.ulid, position: .message(lastExamined!)).encoded)
            }
        }
        return Page(items: matches, nextCursor: nil)
    }

    private func cursorAfter(_ id: String, _ chat: ChatID) -> String? {
        ULID(id).map { PageCursor(kind: .search, scope: chat.ulid, position: .message($0)).encoded }
    }

    private func match(_ message: MessageID, _ chat: ChatID, query: SearchQuery, required: [String], from: UserID?) throws -> MessageView? {
        for term in required where try database.get(SearchKeys.posting(chat, term, message), in: searchRows) == nil {
            return nil
        }
        if !query.prefixes.isEmpty {
            guard let document = try database.get(SearchKeys.document(message), in: searchRows).map(SearchDocument.init(decoding:)),
                  query.prefixes.allSatisfy({ prefix in document.terms.contains { $0.hasPrefix(prefix) } })
            else { return nil }
        }
        guard let record = try database.get(TimelineKeys.message(chat, message), in: timeline).map(MessageRecord.init(decoding:)),
              !record.deleted else { return nil }
        if let from, record.author != from { return nil }
        for phrase in query.phrases where !Tokenizer.containsPhrase(phrase, inText: record.content) {
            return nil
        }
        return try view(chat, message, record)
    }

    private func candidateScan(_ chat: ChatID, required: [String], prefixes: [String], from: UserID?, lower: ULID, upper: ULID) throws -> CandidateScan {
        if let driver = required.max(by: { $0.utf8.count < $1.utf8.count }) {
            let prefix = SearchKeys.termPrefix(chat, driver)
            return .postings([try PostingCursor(database.makeIterator(
                over: searchRows, lower: prefix + lower.bytes, upper: prefix + upper.bytes))])
        }
        if let prefix = prefixes.max(by: { $0.utf8.count < $1.utf8.count }) {
            // Each term starting with the prefix has its own newest-first postings: merge them.
            // Past `maxMergedTerms` terms (every ticket under `plt-*`) merging costs too much,
            // and merging only some would skip matches: the scans below drive instead, and
            // `match` checks the prefix against each message's terms.
            let expansions = try terms(in: chat, startingWith: prefix, limit: Self.maxMergedTerms + 1)
            if expansions.count <= Self.maxMergedTerms {
                var cursors: [PostingCursor] = []
                for term in expansions {
                    let termPrefix = SearchKeys.termPrefix(chat, term)
                    cursors.append(try PostingCursor(database.makeIterator(
                        over: searchRows, lower: termPrefix + lower.bytes, upper: termPrefix + upper.bytes)))
                }
                return .postings(cursors)
            }
        }
        if let from {
            let prefix = UserIndexKeys.userPrefix(from)
            let iterator = database.makeIterator(over: userIndex, lower: prefix + lower.bytes, upper: prefix + upper.bytes)
            iterator.seekToLast()
            return .authored(iterator, chat)
        }
        let iterator = database.makeIterator(
            over: timeline, lower: TimelineKeys.message(chat, MessageID(lower)), upper: TimelineKeys.message(chat, MessageID(upper)))
        iterator.seekToLast()
        return .timeline(iterator)
    }

    /// Distinct indexed terms of a chat that start with `prefix`, found by skipping from one
    /// term's postings to the next term's.
    private func terms(in chat: ChatID, startingWith prefix: String, limit: Int) throws -> [String] {
        let start = SearchKeys.termStartPrefix(chat, prefix)
        let iterator = database.makeIterator(over: searchRows, lower: start, upper: KeyWriter.prefixSuccessor(start))
        iterator.seekToFirst()
        var terms: [String] = []
        while iterator.isValid && terms.count < limit {
            guard let (term, _) = SearchKeys.decodePosting(iterator.key) else { break }
            terms.append(term)
            // Past every posting of this term: term ‖ 0x01 sorts after term ‖ 0x00 ‖ any id.
            iterator.seek(SearchKeys.termPrefix(chat, term).dropLast() + [0x01])
        }
        try iterator.checkError()
        return terms
    }
}
