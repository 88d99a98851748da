/// A parsed search query, as typed into `GET /chats/{chatId}/search?query=`.
///
/// Syntax, separated by whitespace:
/// - `word` — folded by ``Tokenizer``, so case and accents do not matter. A word that
///   splits into several terms (`PLT-3699`, `example.com`, `東京`) must match them as a
///   phrase, so it finds exactly that sequence and not its parts scattered in a message.
/// - `word*` — any term starting with `word`. For a joined token (`plt-36*`,
///   `bob@exa*`) the prefix is its whole form, which the index holds next to the parts.
/// - `"two words"` — the words next to each other, in order. Curly quotes work too.
/// - `from:userId` — written by that user.
/// - `after:2026-01-01` — created on or after the start of that day (UTC), so the day
///   itself is included; `before:2026-01-31` — created before the start of that day, so the
///   day itself is excluded. `after:2026-01-01 before:2026-01-03` is January 1 and 2. Both
///   also take an RFC 3339 time (`2026-01-31T10:00:00.5+01:00`), meaning that instant.
///
/// Any other `key:value` is searched as text. Every word, phrase and prefix must match;
/// a query may have only filters. A `*` anywhere but at the end of a word, and a word
/// starting with `-` (exclusion elsewhere), are refused rather than searched as text.
public struct SearchQuery: Equatable, Sendable {
    /// Folded terms that must all occur in a message.
    public var words: [String]
    /// Folded prefixes; each must start some term of a message.
    public var prefixes: [String]
    /// Folded terms that must occur consecutively, compared with ``Tokenizer/words(_:)``.
    public var phrases: [[String]]
    /// The author's user id.
    public var from: String?
    /// Exclusive upper bound on the creation time, Unix milliseconds.
    public var before: UInt64?
    /// Inclusive lower bound on the creation time, Unix milliseconds.
    public var after: UInt64?

    /// The most terms (words, prefixes and phrase words together) one query may have; each
    /// costs a postings scan.
    public static let maxTerms = 16

    public init(
        words: [String] = [],
        prefixes: [String] = [],
        phrases: [[String]] = [],
        from: String? = nil,
        before: UInt64? = nil,
        after: UInt64? = nil
    ) {
        self.words = words
        self.prefixes = prefixes
        self.phrases = phrases
        self.from = from
        self.before = before
        self.after = after
    }

    /// Every exact term a matching message must contain — the words and the terms of each
    /// phrase — without duplicates, in query order.
    public var requiredTerms: [String] {
        var seen = Set<String>()
        return (words + phrases.joined()).filter { seen.insert($0).inserted }
    }

    /// Whether a message by `author` created at `createdAt` (Unix milliseconds) passes the
    /// `from:`, `before:` and `after:` filters.
    public func passesFilters(author: String, createdAt: UInt64) -> Bool {
        if let from, from != author { return false }
        if let before, createdAt >= before { return false }
        if let after, createdAt < after { return false }
        return true
    }

    public static func parse(_ text: String) throws(SearchQueryError) -> SearchQuery {
        var query = SearchQuery()
        var afterText: String?
        var beforeText: String?
        let scalars = text.unicodeScalars
        var index = scalars.startIndex
        while index < scalars.endIndex {
            let scalar = scalars[index]
            if scalar.properties.isWhitespace {
                index = scalars.index(after: index)
            } else if isQuote(scalar) {
                let start = scalars.index(after: index)
                guard let close = scalars[start...].firstIndex(where: isQuote) else {
                    throw .unterminatedQuote
                }
                query.addTerms(Tokenizer.tokens(String(scalars[start..<close])).flatMap(\.parts))
                index = scalars.index(after: close)
            } else {
                var end = index
                while end < scalars.endIndex, !scalars[end].properties.isWhitespace, !isQuote(scalars[end]) {
                    end = scalars.index(after: end)
                }
                let word = String(scalars[index..<end])
                index = end
                if let colon = word.firstIndex(of: ":") {
                    let value = word[word.index(after: colon)...]
                    switch word[..<colon].lowercased() {
                    case "from":
                        guard query.from == nil else { throw .duplicateFilter("from:") }
                        query.from = try userID(value)
                        continue
                    case "before":
                        guard query.before == nil else { throw .duplicateFilter("before:") }
                        query.before = try time(value, filter: "before:")
                        beforeText = String(value)
                        continue
                    case "after":
                        guard query.after == nil else { throw .duplicateFilter("after:") }
                        query.after = try time(value, filter: "after:")
                        afterText = String(value)
                        continue
                    default:
                        break
                    }
                }
                try checkOperators(word)
                try query.addWord(word)
            }
        }

        if let after = query.after, let before = query.before, after >= before {
            throw .emptyTimeRange(after: afterText ?? "", before: beforeText ?? "")
        }
        let termCount = query.words.count + query.prefixes.count + query.phrases.reduce(0) { $0 + $1.count }
        if termCount > maxTerms {
            throw .tooManyTerms(count: termCount)
        }
        if termCount == 0, query.from == nil, query.before == nil, query.after == nil {
            throw .empty
        }
        return query
    }

    // MARK: - Parsing

    /// Straight quotes, and the curly ones phones substitute for them.
    private static func isQuote(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\"" || scalar == "\u{201C}" || scalar == "\u{201D}"
    }

    /// Refuses the operators other search engines have and this one does not: a `*` that
    /// does not end the word, and a leading `-` (exclusion). Quoted, both are plain text.
    private static func checkOperators(_ word: String) throws(SearchQueryError) {
        if word.reversed().drop(while: { $0 == "*" }).contains("*") {
            throw .misplacedWildcard(word)
        }
        if word.first == "-", let next = word.dropFirst().first, next.isLetter {
            throw .exclusion(word)
        }
    }

    private mutating func addWord(_ word: String) throws(SearchQueryError) {
        guard word.hasSuffix("*") else {
            addTerms(Tokenizer.tokens(word).flatMap(\.parts))
            return
        }
        let stem = String(word.reversed().drop { $0 == "*" }.reversed())
        // A star after a separator (`C++*`, `x½*`) would search the prefix of the word before
        // it (`c*`): it must follow something a term is made of, or a joiner (`PLT-*`: `plt*`).
        guard let end = stem.last,
              end.unicodeScalars.last.map(Tokenizer.isJoiner) == true || !Tokenizer.terms(String(end)).isEmpty else {
            throw .emptyPrefix
        }
        var tokens = Tokenizer.tokens(stem)
        guard let last = tokens.popLast() else { throw .emptyPrefix }
        var leading = tokens.flatMap(\.parts)
        let prefix: String
        if last.parts.count == 1 {
            prefix = last.parts[0]
        } else if let whole = last.whole {
            prefix = whole
        } else {
            // Too long to be indexed whole: the last part is the prefix, the rest must match.
            leading += last.parts.dropLast()
            prefix = last.parts[last.parts.count - 1]
        }
        addTerms(leading)
        if !prefixes.contains(prefix) { prefixes.append(prefix) }
    }

    /// Adds one term as a word and several as a phrase; none (only punctuation) adds
    /// nothing. Emoji are words of their own, wherever they stand: phrases are matched
    /// without them (``Tokenizer/words(_:)``).
    private mutating func addTerms(_ terms: [String]) {
        for emoji in terms where Tokenizer.isEmoji(emoji) && !words.contains(emoji) { words.append(emoji) }
        let terms = terms.filter { !Tokenizer.isEmoji($0) }
        switch terms.count {
        case 0:
            return
        case 1:
            if !words.contains(terms[0]) { words.append(terms[0]) }
        default:
            if !phrases.contains(terms) { phrases.append(terms) }
        }
    }

    private static func userID(_ value: Substring) throws(SearchQueryError) -> String {
        guard !value.isEmpty else { throw .missingFilterValue(filter: "from:") }
        let valid = value.utf8.count <= 64 && value.utf8.allSatisfy { byte in
            switch byte {
            case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x5F, 0x2E, 0x2D: true
            default: false
            }
        }
        // "." and ".." are refused as user ids (they would be path segments).
        guard valid, value != ".", value != ".." else { throw .invalidUserID(String(value)) }
        return String(value)
    }

    private static func time(_ value: Substring, filter: String) throws(SearchQueryError) -> UInt64 {
        guard !value.isEmpty else { throw .missingFilterValue(filter: filter) }
        do throws(RFC3339.Invalid) {
            return try RFC3339.milliseconds(value)
        } catch {
            throw .invalidTime(filter: filter, value: String(value), reason: error.reason)
        }
    }
}
