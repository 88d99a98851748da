import Testing

@testable import ChatFlowCore

@Suite struct SearchQueryTests {
    private static let jan1: UInt64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z
    private static let day: UInt64 = 86_400_000

    private func parse(_ text: String) throws -> SearchQuery {
        try SearchQuery.parse(text)
    }

    private func error(_ text: String) -> SearchQueryError? {
        do {
            _ = try SearchQuery.parse(text)
            return nil
        } catch {
            return error
        }
    }

    /// Whether `query`'s words, phrases and prefixes all match `message`, the way the
    /// search projection is meant to evaluate them.
    private func matches(_ query: SearchQuery, _ message: String) -> Bool {
        let terms = Set(Tokenizer.terms(message))
        let words = Tokenizer.words(message)
        return query.words.allSatisfy(terms.contains)
            && query.phrases.allSatisfy { Tokenizer.containsPhrase($0, in: words) }
            && query.prefixes.allSatisfy { prefix in terms.contains { $0.hasPrefix(prefix) } }
    }

    // MARK: - Words

    @Test func wordsAreFolded() throws {
        #expect(try parse("Hello Café") == SearchQuery(words: ["hello", "cafe"]))
        #expect(try parse("  ÉCOLE\tStraße ") == SearchQuery(words: ["ecole", "strasse"]))
    }

    @Test func queryAndMessageFoldAlike() throws {
        #expect(matches(try parse("cafe"), "Meet at the Café?"))
        #expect(matches(try parse("CAFÉ"), "meet at the cafe"))
        #expect(matches(try parse("москва"), "Привет из МОСКВЫ и Москва"))
        #expect(!matches(try parse("tea"), "Meet at the Café?"))
    }

    @Test func repeatedWordsCountOnce() throws {
        #expect(try parse("cafe Café CAFE") == SearchQuery(words: ["cafe"]))
    }

    @Test func wordThatSplitsBecomesAPhrase() throws {
        let code = try parse("PLT-3699")
        #expect(code == SearchQuery(phrases: [["plt", "3699"]]))
        #expect(matches(code, "Fixed PLT-3699 today"))
        #expect(matches(code, "fixed plt-3699."))
        #expect(!matches(code, "PLT-3700 and 3699"))
        #expect(matches(try parse("3699"), "Fixed PLT-3699 today"))
        #expect(matches(try parse("plt-3699"), "Fixed PLT-3699 today"))

        #expect(matches(try parse("example.com"), "mail bob@example.com"))
        #expect(matches(try parse("bob@example.com"), "mail bob@example.com now"))
        #expect(try parse("東京") == SearchQuery(phrases: [["東", "京"]]))
        #expect(matches(try parse("東京"), "東京タワーに行く"))
    }

    @Test func apostrophes() throws {
        #expect(matches(try parse("dont"), "I don't know"))
        #expect(matches(try parse("don't"), "I don’t know"))
        #expect(matches(try parse("école"), "à l'école"))
    }

    @Test func unknownFiltersAreText() throws {
        #expect(try parse("foo:bar") == SearchQuery(phrases: [["foo", "bar"]]))
        #expect(matches(try parse("foo:bar"), "set foo: bar"))
        #expect(try parse("http://x") == SearchQuery(phrases: [["http", "x"]]))
    }

    @Test func symbolsAreIgnoredAndEmojiAreWords() throws {
        #expect(try parse("→ deploy !!") == SearchQuery(words: ["deploy"]))
        #expect(try parse("🎉 deploy 👍🏽") == SearchQuery(words: ["🎉", "deploy", "👍"]))
        #expect(matches(try parse("👍"), "ship it 👍🏽"))
        #expect(matches(try parse("\"ship it 👍\""), "Ship it👍"))
        #expect(!matches(try parse("🎉"), "ship it 👍"))
        // Emoji stand apart from phrases, and phrases match across them.
        #expect(try parse("\"happy 🎂 birthday\"") == SearchQuery(words: ["🎂"], phrases: [["happy", "birthday"]]))
        #expect(matches(try parse("\"happy birthday\""), "happy 🎂 birthday"))
        #expect(!matches(try parse("🇺🇸"), "🇦🇺🇸🇪"))
    }

    // MARK: - Prefixes

    @Test func prefixes() throws {
        #expect(try parse("deploy*") == SearchQuery(prefixes: ["deploy"]))
        #expect(try parse("Éco**") == SearchQuery(prefixes: ["eco"]))
        #expect(try parse("d*") == SearchQuery(prefixes: ["d"]))
        #expect(matches(try parse("depl*"), "Deployed to prod"))
        #expect(!matches(try parse("depl*"), "redeployed"))
    }

    @Test func prefixOfAJoinedTokenUsesItsWholeForm() throws {
        #expect(try parse("plt-36*") == SearchQuery(prefixes: ["plt-36"]))
        #expect(matches(try parse("plt-36*"), "see PLT-3699"))
        #expect(!matches(try parse("plt-36*"), "plt 3699"))
        #expect(try parse("https://exa*") == SearchQuery(words: ["https"], prefixes: ["exa"]))
        #expect(matches(try parse("bob@exa*"), "write to bob@example.com"))
    }

    @Test func prefixNeedsALetterOrDigit() throws {
        #expect(error("*") == .emptyPrefix)
        #expect(error("deploy **") == .emptyPrefix)
        #expect(error("→*") == .emptyPrefix)
        // Not the prefix of the letters before the symbols: `C++*` searched `c*`.
        #expect(error("C++*") == .emptyPrefix)
        #expect(error("x½*") == .emptyPrefix)
        #expect(error("a⑩*") == .emptyPrefix)
        // After a joiner, the prefix of what it joins to.
        #expect(try parse("PLT-*") == SearchQuery(prefixes: ["plt"]))
        #expect(try parse("don'*") == SearchQuery(prefixes: ["don"]))
        #expect(try parse("don\u{2BC}*") == SearchQuery(prefixes: ["don"]))
        #expect(try parse("bob@*") == SearchQuery(prefixes: ["bob"]))
        #expect(try parse("café*") == SearchQuery(prefixes: ["cafe"]))
        #expect(try parse("cafe\u{301}*") == SearchQuery(prefixes: ["cafe"]))
        #expect(try parse("ภาษา*") == SearchQuery(prefixes: ["ภาษา"]))
        #expect(try parse("v2*") == SearchQuery(prefixes: ["v2"]))
    }

    /// Operators of other search engines are refused, not searched as text: `*a` and `a*b`
    /// found nothing, `-word` found the messages with the word.
    @Test func wildcardsInsideAWordAndExclusionsAreRefused() throws {
        #expect(error("*deploy") == .misplacedWildcard("*deploy"))
        #expect(error("de*ploy") == .misplacedWildcard("de*ploy"))
        #expect(error("ok de*p*") == .misplacedWildcard("de*p*"))
        #expect(error("-deploy") == .exclusion("-deploy"))
        #expect(error("-from:alice") == .exclusion("-from:alice"))
        #expect(try parse("-5") == SearchQuery(words: ["5"]))  // a number, not an exclusion
        #expect(SearchQueryError.exclusion("-deploy").description.contains("not supported"))
        // Quoted, or not before a word, they are text as before.
        #expect(try parse("\"-deploy\"") == SearchQuery(words: ["deploy"]))
        #expect(try parse("a - b") == SearchQuery(words: ["a", "b"]))
        #expect(try parse("plt-36*") == SearchQuery(prefixes: ["plt-36"]))
        #expect(try parse("deploy**") == SearchQuery(prefixes: ["deploy"]))
        // Markdown emphasis pasted as a query: the answer says how to search its words.
        #expect(error("**bold**") == .misplacedWildcard("**bold**"))
        #expect(SearchQueryError.misplacedWildcard("**bold**").description.contains("put it in quotes"))
        #expect(try parse("\"**bold**\"") == SearchQuery(words: ["bold"]))
    }

    // MARK: - Phrases

    @Test func phrases() throws {
        let query = try parse("\"Two Words\" other")
        #expect(query == SearchQuery(words: ["other"], phrases: [["two", "words"]]))
        #expect(matches(query, "two words and other things"))
        #expect(!matches(query, "words two and other things"))
        #expect(try parse("“curly quotes”") == SearchQuery(phrases: [["curly", "quotes"]]))
        #expect(try parse("\"single\"") == SearchQuery(words: ["single"]))
        #expect(try parse("a\"b c\"d") == SearchQuery(words: ["a", "d"], phrases: [["b", "c"]]))
        #expect(try parse("\"fixed PLT-3699\"") == SearchQuery(phrases: [["fixed", "plt", "3699"]]))
        #expect(try parse("\"\" x") == SearchQuery(words: ["x"]))
    }

    @Test func unterminatedQuoteIsAnError() {
        #expect(error("\"open phrase") == .unterminatedQuote)
        #expect(error("a \"b\" \"c") == .unterminatedQuote)
        #expect(SearchQueryError.unterminatedQuote.description.contains("closing quote"))
    }

    // MARK: - Filters

    @Test func fromFilter() throws {
        #expect(try parse("from:alice") == SearchQuery(from: "alice"))
        #expect(try parse("FROM:Bob.Smith-2_x deploy") == SearchQuery(words: ["deploy"], from: "Bob.Smith-2_x"))
        #expect(try parse("from:" + String(repeating: "a", count: 64)).from?.count == 64)
        #expect(error("from:..") == .invalidUserID(".."))
        #expect(error("from:.") == .invalidUserID("."))
        #expect(error("from:" + String(repeating: "a", count: 65)) == .invalidUserID(String(repeating: "a", count: 65)))
        #expect(error("from:al!ce") == .invalidUserID("al!ce"))
        #expect(error("from:élise") == .invalidUserID("élise"))
        #expect(error("from:") == .missingFilterValue(filter: "from:"))
        #expect(error("from:alice from:bob") == .duplicateFilter("from:"))
    }

    @Test func dateFiltersIncludeAfterDayAndExcludeBeforeDay() throws {
        let query = try parse("after:2026-01-01 before:2026-01-03")
        #expect(query.after == Self.jan1)
        #expect(query.before == Self.jan1 + 2 * Self.day)

        #expect(query.passesFilters(author: "a", createdAt: Self.jan1))
        #expect(query.passesFilters(author: "a", createdAt: Self.jan1 + 2 * Self.day - 1))
        #expect(!query.passesFilters(author: "a", createdAt: Self.jan1 - 1))
        #expect(!query.passesFilters(author: "a", createdAt: Self.jan1 + 2 * Self.day))
    }

    @Test func fromFilterMatchesOnlyThatAuthor() throws {
        let query = try parse("from:alice")
        #expect(query.passesFilters(author: "alice", createdAt: 0))
        #expect(!query.passesFilters(author: "Alice", createdAt: 0))
    }

    private static let times: [(text: String, milliseconds: UInt64)] = [
        ("1970-01-01", UInt64(0)),
        ("2026-01-01", jan1),
        ("2026-01-31", jan1 + 30 * day),
        ("2024-02-29", 1_709_164_800_000),
        ("2000-02-29", 951_782_400_000),
        ("2026-01-31T10:00:00Z", jan1 + 30 * day + 36_000_000),
        ("2026-01-31t10:00:00z", jan1 + 30 * day + 36_000_000),
        ("2026-01-31T10:00:00.5Z", jan1 + 30 * day + 36_000_500),
        ("2026-01-31T10:00:00.123Z", jan1 + 30 * day + 36_000_123),
        ("2026-01-31T10:00:00.1231Z", jan1 + 30 * day + 36_000_124),
        ("2026-01-31T10:00:00.1230000Z", jan1 + 30 * day + 36_000_123),
        ("2026-01-31T12:00:00+02:00", jan1 + 30 * day + 36_000_000),
        ("2026-01-31T05:30:00-04:30", jan1 + 30 * day + 36_000_000),
        // A leap second is the next day's first, as Unix time has it.
        ("2016-12-31T23:59:60Z", 1_483_228_800_000),
        ("2016-12-31T23:59:60.5Z", 1_483_228_800_500),
        ("2017-01-01T00:59:60+01:00", 1_483_228_800_000),
    ]

    /// As a time cursor may be written (a space cannot be in a search filter's value).
    @Test func aSpaceMayStandForTheT() throws {
        #expect(try RFC3339.milliseconds("2026-01-31 10:00:00.5Z") == Self.jan1 + 30 * Self.day + 36_000_500)
        #expect(throws: RFC3339.Invalid.self) { try RFC3339.milliseconds("2026-01-31  10:00:00Z") }
    }

    @Test(arguments: times)
    func timeValues(text: String, milliseconds: UInt64) throws {
        #expect(try parse("before:\(text)").before == milliseconds)
        #expect(try parse("after:\(text)").after == milliseconds)
    }

    @Test(arguments: [
        ("2026-02-30", "February 2026 has 28 days"),
        ("2025-02-29", "February 2025 has 28 days"),
        ("2100-02-29", "February 2100 has 28 days"),
        ("2026-04-31", "April 2026 has 30 days"),
        ("2026-13-01", "month must be 01 to 12"),
        ("2026-00-10", "month must be 01 to 12"),
        ("2026-01-00", "January 2026 has 31 days"),
        ("2026-1-1", "use YYYY-MM-DD"),
        ("yesterday", "use YYYY-MM-DD"),
        ("2026-01-31T25:00:00Z", "hour must be 00 to 23"),
        ("2026-01-31T10:60:00Z", "minute must be 00 to 59"),
        ("2026-01-31T10:00:61Z", "second must be 00 to 59"),
        ("2026-01-31T10:00:60Z", "only after 23:59:59 UTC"),
        ("2026-01-31T23:59:60+01:00", "only after 23:59:59 UTC"),
        ("2026-01-31T10:00:00", "time zone"),
        ("2026-01-31T10:00:00+24:00", "offset"),
        ("2026-01-31T10:00:00.Z", "use YYYY-MM-DD"),
        ("2026-01-31T10:00Z", "use YYYY-MM-DD"),
        ("2026-01-31Z", "use YYYY-MM-DD"),
        ("1969-12-31", "before 1970"),
        ("1970-01-01T00:30:00+01:00", "before 1970"),
    ])
    func invalidTimes(text: String, reason: String) {
        let failure = error("before:\(text)")
        guard case .invalidTime(let filter, let value, let actual) = failure else {
            Issue.record("expected invalidTime for \(text), got \(String(describing: failure))")
            return
        }
        #expect(filter == "before:")
        #expect(value == text)
        #expect(actual.contains(reason), "\(actual)")
        #expect(failure?.description.hasPrefix("before:\(text) is not a valid date or time: ") == true)
    }

    @Test func timeFilterErrors() {
        #expect(error("before:") == .missingFilterValue(filter: "before:"))
        #expect(error("after:") == .missingFilterValue(filter: "after:"))
        #expect(error("after:2026-01-01 after:2026-01-02") == .duplicateFilter("after:"))
        #expect(error("before:2026-01-01 Before:2026-01-02") == .duplicateFilter("before:"))
        #expect(error("after:2026-02-01 before:2026-01-01") == .emptyTimeRange(after: "2026-02-01", before: "2026-01-01"))
        #expect(error("after:2026-01-01 before:2026-01-01") == .emptyTimeRange(after: "2026-01-01", before: "2026-01-01"))
    }

    @Test func filtersAloneAreAQuery() throws {
        #expect(try parse("from:alice") == SearchQuery(from: "alice"))
        #expect(try parse("after:2026-01-01") == SearchQuery(after: Self.jan1))
        #expect(try parse("before:2026-01-01") == SearchQuery(before: Self.jan1))
    }

    @Test func everythingTogether() throws {
        let query = try parse("deploy* \"two words\" from:alice after:2026-01-01 before:2026-01-31 Café")
        #expect(query == SearchQuery(
            words: ["cafe"],
            prefixes: ["deploy"],
            phrases: [["two", "words"]],
            from: "alice",
            before: Self.jan1 + 30 * Self.day,
            after: Self.jan1
        ))
        #expect(query.requiredTerms == ["cafe", "two", "words"])
    }

    // MARK: - Errors

    @Test func emptyQueriesAreErrors() {
        for text in ["", "   ", "→", "!!! ...", "\"\""] {
            #expect(error(text) == .empty, "\(text)")
        }
        #expect(SearchQueryError.empty.description == "query must contain at least one word or filter")
    }

    @Test func atMostSixteenTerms() throws {
        let sixteen = (1...16).map { "w\($0)" }.joined(separator: " ")
        #expect(try parse(sixteen).words.count == 16)
        #expect(error(sixteen + " w17") == .tooManyTerms(count: 17))
        #expect(error("a b c d e f g h \"i j k l m n o p q\"") == .tooManyTerms(count: 17))
        #expect(error((1...20).map { "p\($0)*" }.joined(separator: " ")) == .tooManyTerms(count: 20))
        #expect(SearchQueryError.tooManyTerms(count: 17).description.contains("at most 16"))
    }

    @Test func errorDescriptionsSayWhatToDo() {
        let errors: [SearchQueryError] = [
            .empty, .unterminatedQuote, .emptyPrefix, .tooManyTerms(count: 20),
            .missingFilterValue(filter: "from:"), .missingFilterValue(filter: "before:"),
            .missingFilterValue(filter: "after:"), .invalidUserID("x!"),
            .invalidTime(filter: "after:", value: "x", reason: "r"), .duplicateFilter("from:"),
            .emptyTimeRange(after: "2026-02-01", before: "2026-01-01"),
            .misplacedWildcard("a*b"), .exclusion("-a"),
        ]
        for error in errors {
            #expect(!error.description.isEmpty)
        }
        #expect(SearchQueryError.missingFilterValue(filter: "after:").description.contains("after:2026-01-01"))
        #expect(SearchQueryError.invalidUserID("x!").description.contains("A–Z"))
        #expect(SearchQueryError.emptyPrefix.description.contains("deploy*"))
    }
}
