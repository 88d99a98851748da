/// Why a search query could not be parsed; ``description`` tells the user how to fix it
/// and is meant to be returned as the detail of a 400 response.
public enum SearchQueryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No word, phrase, prefix or filter — only whitespace or punctuation.
    case empty
    /// A `"` without its closing `"`.
    case unterminatedQuote
    /// A `*` with no letter or digit right before it.
    case emptyPrefix
    /// A `*` inside or before a word: only a prefix (`deploy*`) is searched.
    case misplacedWildcard(String)
    /// A word written `-word`, which search engines read as "without word": searching for
    /// the word instead would find the opposite of what was asked.
    case exclusion(String)
    /// More than ``SearchQuery/maxTerms`` terms.
    case tooManyTerms(count: Int)
    /// `from:`, `before:` or `after:` with nothing after the colon.
    case missingFilterValue(filter: String)
    case invalidUserID(String)
    case invalidTime(filter: String, value: String, reason: String)
    /// The same filter given twice.
    case duplicateFilter(String)
    /// `after:` is not earlier than `before:`, so nothing could match.
    case emptyTimeRange(after: String, before: String)

    public var description: String {
        switch self {
        case .empty:
            "query must contain at least one word or filter"
        case .unterminatedQuote:
            "a quoted phrase is missing its closing quote (\"); close it or remove the quote"
        case .emptyPrefix:
            "a prefix search needs a letter or digit right before '*', for example deploy*"
        case .misplacedWildcard(let word):
            "'*' may only end a word, to search for a prefix such as deploy* (got '\(word)'); put it in quotes to search for the words in it as text"
        case .exclusion(let word):
            "excluding words is not supported (got '\(word)'); search for the word without '-', or put it in quotes to search for it as written"
        case .tooManyTerms(let count):
            "query has \(count) search terms; at most \(SearchQuery.maxTerms) are allowed, so remove some words"
        case .missingFilterValue(let filter):
            switch filter {
            case "from:": "from: needs a user id, for example from:alice"
            case "before:": "before: needs a date, for example before:2026-01-31"
            default: "\(filter) needs a date, for example \(filter)2026-01-01"
            }
        case .invalidUserID(let value):
            "from:\(value) is not a valid user id; user ids are 1–64 characters of A–Z, a–z, 0–9, '_', '.' and '-'"
        case .invalidTime(let filter, let value, let reason):
            "\(filter)\(value) is not a valid date or time: \(reason)"
        case .duplicateFilter(let filter):
            "\(filter) may appear only once in a query"
        case .emptyTimeRange(let after, let before):
            "after:\(after) is not earlier than before:\(before), so no message can match; widen the range (before: a date means before that day begins, so one day is after:2026-01-30 before:2026-01-31)"
        }
    }
}
