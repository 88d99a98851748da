import ChatFlowStorage

extension ChatFlowReader {
    /// Index moves (steps and seeks) and candidates examined per request at most; past it the
    /// page ends early with a cursor that continues exactly where the scan stopped, so no
    /// match is skipped or repeated.
    static let searchScanBudget = 50_000

    /// What one candidate examined costs of the budget: reading its row and checking its
    /// text take ~9 µs, dozens of index moves, so a page examines at most 1,250 (a phrase
    /// rarely matched, of words that are everywhere, took 150 ms at one each).
    static let candidateCost = 40

    /// The most terms whose postings one search merges, over all its prefixes.
    static let maxMergedTerms = 256

    /// One page of a chat's messages matching `query`, newest first.
    ///
    /// Postings drive, as a join (``CandidateScan``) of one cursor per exact term (the words
    /// and the words of phrases), one per prefix (the postings of every term it expands to,
    /// merged), and the author's own messages for `from:`: only a message under every cursor
    /// is a candidate. A prefix left out of the join is checked against the message's indexed
    /// terms, phrases against its text, and filters against its row. Without a term or a
    /// joined prefix, the author's own messages or the timeline drive.
    public func search(in chat: ChatID, query: SearchQuery, cursor: String?, limit: Int) throws -> Page<MessageView> {
        try search(in: chat, query: query, cursor: cursor, limit: limit, scanBudget: Self.searchScanBudget)
    }

    /// `search` with a scan budget of the caller's choosing, so tests can make pages pause.
    func search(in chat: ChatID, query: SearchQuery, cursor: String?, limit: Int, scanBudget: Int) throws -> Page<MessageView> {
        var upper = ULID.max
        if let before = query.before { upper = .first(atMillisecond: before) }
        if let cursor {
            switch try PageCursor.decode(cursor, kind: .search, scope: Self.searchScope(chat, query), allowTime: true).position {
            case .message(let id): upper = Swift.min(upper, id)
            case .time(let ms): upper = Swift.min(upper, .first(atMillisecond: ms))
            case .member: throw ChatFlowError.invalid("cursor is damaged")
            }
        }
        let lower = query.after.map { ULID.first(atMillisecond: $0) } ?? .zero
        let from = query.from.map(UserID.init(unchecked:))

        var budget = scanBudget
        let (candidates, unjoinedPrefixes) = try candidateScan(chat, query: query, from: from, lower: lower, upper: upper, budget: &budget)
        var matches: [MessageView] = []
        var lastExamined: ULID?
        while true {
            // Cursors that always agree (one term, or a phrase of one word repeated) hand out
            // candidates without pausing: past the budget, the page ends after the last one
            // examined, which it has settled. (Such a phrase, rarely matched, once walked
            // every posting of a common word in one request.)
            if budget <= 0, let lastExamined {
                return Page(items: matches, nextCursor: searchCursor(before: lastExamined, chat, query))
            }
            switch try candidates.next(budget: &budget) {
            case .end:
                return Page(items: matches, nextCursor: nil)
            case .paused(let through):
                // Nothing at or before `through` has been looked at: the next page starts with it.
                return Page(items: matches, nextCursor: searchCursor(before: through.successor ?? .max, chat, query))
            case .candidate(let message):
                budget -= Self.candidateCost
                let view = try match(message, chat, query: query, prefixes: unjoinedPrefixes, from: from)
                if matches.count == limit, view != nil {
                    // A full page has a next one only if another message matches: at the
                    // end of the results, the cursor is null rather than an empty page's.
                    return Page(items: matches, nextCursor: searchCursor(before: lastExamined ?? .max, chat, query))
                }
                lastExamined = message.ulid
                if let view {
                    matches.append(view)
                }
            }
        }
    }

    /// A cursor for the page of matches older than `id`.
    private func searchCursor(before id: ULID, _ chat: ChatID, _ query: SearchQuery) -> String {
        PageCursor(kind: .search, scope: Self.searchScope(chat, query), position: .message(id)).encoded
    }

    /// The list a search cursor belongs to: the chat and the query, as parsed (so spelling
    /// it with other spaces or case is the same list). A cursor of one query passed with
    /// another is refused as any cursor of another list is, rather than quietly continuing
    /// a list the client did not ask for.
    static func searchScope(_ chat: ChatID, _ query: SearchQuery) -> ULID {
        // FNV-1a over the parts, each ended by a byte no folded term holds.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func add(_ bytes: some Sequence<UInt8>, end: UInt8) {
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
            hash = (hash ^ UInt64(end)) &* 0x0000_0100_0000_01B3
        }
        // Order and repeats make no other list: `a b` is `b a`, `deploy deploy` is `deploy`.
        for word in Set(query.words).sorted() { add(word.utf8, end: 1) }
        for prefix in Set(query.prefixes).sorted() { add(prefix.utf8, end: 2) }
        for phrase in Set(query.phrases.map { $0.joined(separator: " ") }).sorted() { add(phrase.utf8, end: 3) }
        add((query.from ?? "").utf8, end: 4)
        add(String(query.before ?? 0).utf8, end: 5)
        add(String(query.after ?? 0).utf8, end: 6)
        return ULID(high: chat.ulid.high, low: chat.ulid.low ^ hash)
    }

    /// Whether a candidate matches: every required term and joined prefix already does, by
    /// construction of the scan.
    private func match(_ message: MessageID, _ chat: ChatID, query: SearchQuery, prefixes: [String], from: UserID?) throws -> MessageView? {
        if !prefixes.isEmpty {
            guard let document = try database.get(SearchKeys.document(message), in: searchRows).map(SearchDocument.init(decoding:)),
                  // By bytes, as the index orders terms: `hasPrefix` compares whole
                  // characters, and "क" does not start "कि" (one character with its vowel sign).
                  prefixes.allSatisfy({ prefix in document.terms.contains { $0.utf8.starts(with: prefix.utf8) } })
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

    /// The scan that drives a search, and the prefixes it leaves out of its join for `match`
    /// to check.
    private func candidateScan(
        _ chat: ChatID, query: SearchQuery, from: UserID?, lower: ULID, upper: ULID, budget: inout Int
    ) throws -> (CandidateScan, unjoinedPrefixes: [String]) {
        var cursors: [PostingCursor] = []
        for term in query.requiredTerms {
            cursors.append(try PostingCursor(
                database, searchRows, prefixes: [SearchKeys.termPrefix(chat, term)], runs: true, lower: lower, upper: upper, budget: &budget))
        }
        // Each term starting with a prefix has its own newest-first postings: merged, they are
        // one cursor of the join. Past `maxMergedTerms` terms in all (every ticket under
        // `plt-*`) merging costs too much, and merging only some would skip matches: such a
        // prefix stays out of the join for `match` to check. Longer prefixes expand to fewer
        // terms, so they go first.
        var unjoined: [String] = []
        var mergeable = Self.maxMergedTerms
        for prefix in query.prefixes.sorted(by: { $0.utf8.count > $1.utf8.count }) {
            let expansions = try terms(in: chat, startingWith: prefix, limit: mergeable + 1)
            guard expansions.count <= mergeable else {
                unjoined.append(prefix)
                continue
            }
            mergeable -= expansions.count
            cursors.append(try PostingCursor(
                database, searchRows, prefixes: expansions.map { SearchKeys.termPrefix(chat, $0) }, runs: true,
                lower: lower, upper: upper, budget: &budget))
        }
        if !cursors.isEmpty {
            if let from {
                // The author's messages in this chat: a quiet author lets the join skip most
                // of a busy term.
                cursors.append(try PostingCursor(
                    database, userIndex, prefixes: [UserIndexKeys.chatUserPrefix(chat, from)], runs: false, lower: lower, upper: upper, budget: &budget))
            }
            return (.join(cursors), unjoined)
        }
        if let from {
            let prefix = UserIndexKeys.chatUserPrefix(chat, from)
            let iterator = database.makeIterator(over: userIndex, lower: prefix + lower.bytes, upper: prefix + upper.bytes)
            iterator.seekToLast()
            return (.authored(iterator), unjoined)
        }
        let iterator = database.makeIterator(
            over: timeline, lower: TimelineKeys.message(chat, MessageID(lower)), upper: TimelineKeys.message(chat, MessageID(upper)))
        iterator.seekToLast()
        return (.timeline(iterator), unjoined)
    }

    /// Distinct indexed terms of a chat that start with `prefix`, found by skipping from one
    /// term's postings to the next term's.
    private func terms(in chat: ChatID, startingWith prefix: String, limit: Int) throws -> [String] {
        let start = SearchKeys.termStartPrefix(chat, prefix)
        let iterator = database.makeIterator(over: searchRows, lower: start, upper: KeyWriter.prefixSuccessor(start))
        iterator.seekToFirst()
        var terms: [String] = []
        while iterator.isValid && terms.count < limit {
            guard let (term, _) = SearchKeys.decodeBlock(iterator.key) else { break }
            terms.append(term)
            // Past every posting of this term: term ‖ 0x01 sorts after term ‖ 0x00 ‖ any id.
            iterator.seek(SearchKeys.termPrefix(chat, term).dropLast() + [0x01])
        }
        try iterator.checkError()
        return terms
    }
}
