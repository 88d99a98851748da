import ChatFlowCore
import ChatFlowStorage
import Testing

@Suite("Validation")
struct ValidationTests {
    // MARK: - Content

    @Test func contentIsTrimmed() throws {
        #expect(try Validation.content("hello") == "hello")
        #expect(try Validation.content("  \n\t hi there \t\r\n") == "hi there")
        #expect(try Validation.content("\u{00A0}\u{2003}x\u{3000}") == "x")  // NBSP, em space, ideographic space
        #expect(try Validation.content("a  \n\n  b") == "a  \n\n  b")
    }

    @Test func contentMustNotBeBlank() {
        for blank in ["", " ", "\n", " \t\r\n \u{00A0}"] {
            #expect(throws: ChatFlowError.invalid("content must be 1–4000 characters after trimming (got 0)")) {
                try Validation.content(blank)
            }
        }
    }

    /// Text nobody can see, or that holds control characters, is refused; emoji sequences
    /// (joined by zero-width joiners) and line breaks are fine.
    @Test func contentAndNamesMustBeVisibleText() throws {
        // Formatting characters, fillers that render as nothing, marks with no base,
        // variation selectors and noncharacters.
        let invisibles = [
            "\u{200B}", "\u{200B}\u{200B}", "\u{202E}\u{200F}", "\u{FEFF}", "\u{3164}", "\u{115F}", "\u{FFA0}", "\u{2800}",
            "\u{034F}", "\u{FE0F}", "\u{E0100}", "\u{0301}", "\u{3164} \u{2800}",
        ] + [0xFFFF, 0xFDD0, 0x10FFFE].map { String(Unicode.Scalar(UInt32($0))!) }  // noncharacters: no literals for them
        for invisible in invisibles {
            #expect(throws: ChatFlowError.invalid("content must have something visible, not only invisible or formatting characters")) {
                try Validation.content(invisible)
            }
            #expect(throws: ChatFlowError.self) { try Validation.chatName(invisible) }
        }
        #expect(throws: ChatFlowError.invalid("content must not hold control characters (got U+0)")) { try Validation.content("a\u{0}b") }
        #expect(throws: ChatFlowError.invalid("content must not hold control characters (got U+1B)")) { try Validation.content("\u{1B}[31mred") }
        #expect(throws: ChatFlowError.invalid("name must not hold control characters (got U+A)")) { try Validation.chatName("two\nlines") }
        #expect(throws: ChatFlowError.invalid("name must not hold control characters (got U+2028)")) { try Validation.chatName("a\u{2028}b") }
        #expect(throws: ChatFlowError.invalid("description must not hold control characters (got U+0)")) { try Validation.chatDescription("a\u{0}b") }
        #expect(try Validation.content("line one\n\tline two") == "line one\n\tline two")
        #expect(try Validation.content("page\u{0C}break\u{2028}here") == "page\u{0C}break\u{2028}here")
        #expect(try Validation.content("👨‍👩‍👧") == "👨‍👩‍👧")
        #expect(try Validation.chatName("‏שלום") == "‏שלום")
        // Unassigned here (U+1FAEA, say) may be an emoji newer than this runtime's Unicode data.
        for visible in ["e\u{301}", "한국어", "\u{1100}\u{1161}", "©️", "\u{E000}", "ग\u{93F}", "⠁", "\u{1FAEA}"] {
            #expect(try Validation.content(visible) == visible)
        }
    }

    /// Names and descriptions, shown to everyone in the directory, take no formatting that
    /// reorders or hides text; messages may (the web client lays each out on its own).
    @Test func namesTakeNoHiddenOrReorderingFormatting() throws {
        for (hidden, code) in [("\u{202E}gnp.exe", "202E"), ("gen\u{200B}eral", "200B"), ("a\u{2066}b\u{2069}", "2066"),
                               ("ad\u{200C}min é", "200C"), ("\u{200D}x é", "200D"), ("admin\u{200E} é", "200E"), ("a\u{180E}b é", "180E"),
                               ("soft\u{AD}hyphen", "AD"), ("x\u{FEFF}", "FEFF"), ("tag\u{E0001}", "E0001"),
                               ("gen\u{3164}eral", "3164"), ("a\u{034F}b", "34F"), ("a\u{2061}b", "2061"), ("a\u{FFF9}b", "FFF9")] {
            #expect(throws: ChatFlowError.invalid("name must not hold invisible or direction-changing formatting characters (got U+\(code))")) {
                try Validation.chatName(hidden)
            }
            #expect(throws: ChatFlowError.self) { try Validation.chatDescription("about " + hidden) }
            #expect(try Validation.content(hidden) == hidden)
        }
        // What right-to-left text, letters and emoji need stays.
        for name in ["\u{200F}שלום", "می\u{200C}خواهم", "👩\u{200D}💻 team", "عربي\u{061C} 42", "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
                     "❤\u{FE0F} fans", "葛\u{E0100}城", "ᠮᠣᠩ\u{180B}ᠭᠣᠯ", "ᠬᠠᠷ\u{180E}ᠠ", "🏃\u{200D}♂\u{FE0F} runners",
                     "👁\u{FE0F}\u{200D}🗨\u{FE0F}", "🏳\u{FE0F}\u{200D}⚧\u{FE0F}", "शुक्र\u{200D}वार", "C++ \u{200E}עברית"] {
            #expect(try Validation.chatName(name) == name)
        }
        // Tags spell flags, not hidden text after a letter or a flag.
        for hidden in ["a\u{E0067}\u{E0062}\u{E007F}", "🏴\u{E0068}\u{E0069}\u{E007F} team", "x\u{E0020}"] {
            let error = #expect(throws: ChatFlowError.self, "\(hidden.unicodeScalars.map { String($0.value, radix: 16) })") { try Validation.chatName(hidden) }
            #expect("\(error.map { "\($0)" } ?? "")".contains("outside a flag"), "\(String(describing: error))")
        }
        // Variation selectors pick a form of what they follow, or nothing: then they hide.
        for hidden in ["gen\u{FE0F}eral", "general\u{E0100}", "👍\u{FE0F}\u{FE0F}", "a\u{180B}"] {
            let error = #expect(throws: ChatFlowError.self, "\(hidden.unicodeScalars.map { String($0.value, radix: 16) })") { try Validation.chatName(hidden) }
            #expect("\(error.map { "\($0)" } ?? "")".contains("where it selects no form"), "\(String(describing: error))")
        }
    }

    @Test func contentLengthBoundaries() throws {
        #expect(try Validation.content(String(repeating: "a", count: 4000)).count == 4000)
        #expect(throws: ChatFlowError.invalid("content must be 1–4000 characters after trimming (got 4001)")) {
            try Validation.content(String(repeating: "a", count: 4001))
        }
        // Whitespace around the text does not count.
        let padded = String(repeating: " ", count: 50) + String(repeating: "a", count: 4000) + String(repeating: "\n", count: 50)
        #expect(try Validation.content(padded).count == 4000)
    }

    @Test func contentCountsCharactersNotBytesOrScalars() throws {
        let family = "👨‍👩‍👧"  // 5 scalars, 18 bytes, one character
        let decomposed = "e\u{301}"  // 2 scalars, one character
        #expect(try Validation.content(String(repeating: family, count: 4000)).count == 4000)
        #expect(try Validation.content(String(repeating: decomposed, count: 4000)).count == 4000)
        #expect(throws: ChatFlowError.self) { try Validation.content(String(repeating: family, count: 4001)) }
    }

    /// A character may hold up to 32 code points (every emoji sequence and letter with its
    /// marks fits); marks stacked past that on one letter are refused in every text field.
    @Test func marksStackedOnOneLetterAreBounded() throws {
        let stacked = { (marks: Int) in "Z" + String(repeating: "\u{301}", count: marks) }
        #expect(try Validation.content(stacked(31) + " ok").count == 4)
        #expect(try Validation.chatName(stacked(31)).count == 1)
        let longestFamily = "👨🏻‍👩🏻‍👧🏻‍👦🏻"
        #expect(try Validation.content(String(repeating: longestFamily, count: 10)).count == 10)
        for text in [stacked(32), "hello " + stacked(20_000) + " world"] {
            #expect(throws: ChatFlowError.invalid("content has a character of \(text.unicodeScalars.count - (text.hasPrefix("hello") ? 12 : 0)) code points; at most 32 may make one (marks stacked on a letter)")) {
                try Validation.content(text)
            }
        }
        #expect(throws: ChatFlowError.self) { try Validation.chatName(stacked(40)) }
        #expect(throws: ChatFlowError.self) { try Validation.chatDescription("about " + stacked(40)) }
    }

    // MARK: - Chat name and description

    @Test func chatNameBoundaries() throws {
        #expect(try Validation.chatName("  General  ") == "General")
        #expect(try Validation.chatName("x") == "x")
        #expect(try Validation.chatName(String(repeating: "n", count: 100)).count == 100)
        #expect(throws: ChatFlowError.invalid("name must be 1–100 characters after trimming (got 101)")) {
            try Validation.chatName(String(repeating: "n", count: 101))
        }
        #expect(throws: ChatFlowError.invalid("name must be 1–100 characters after trimming (got 0)")) {
            try Validation.chatName(" \n ")
        }
    }

    @Test func chatDescriptionBoundaries() throws {
        #expect(try Validation.chatDescription("") == "")
        #expect(try Validation.chatDescription("  \n") == "")
        #expect(try Validation.chatDescription(" About us ") == "About us")
        #expect(try Validation.chatDescription(String(repeating: "d", count: 1000)).count == 1000)
        #expect(throws: ChatFlowError.invalid("description must be at most 1000 characters after trimming (got 1001)")) {
            try Validation.chatDescription(String(repeating: "d", count: 1001))
        }
    }

    // MARK: - Emoji

    @Test(arguments: [
        "👍", "❤️", "👍🏽", "🇫🇷", "👨‍👩‍👧", "😀", "🎉", "1️⃣", "#️⃣", "©️", "☝🏽", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "🧑🏻‍❤️‍💋‍🧑🏼", "🏳️‍🌈",
        "🏽", "👁️‍🗨️", "🧑🏽‍🤝‍🧑🏻", "👨‍🦰", "🏃🏾‍♀️", "🐕‍🦺", "❤️‍🔥", "🫱🏼‍🫲🏿",
        "🇦🇨", "🇿🇼", "🇪🇺", "🇺🇳", "🇨🇶", "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}",
    ])
    func acceptsEmoji(_ emoji: String) throws {
        #expect(try Validation.emoji(emoji) == emoji)
    }

    /// Forms that look the same are one reaction, in the fully-qualified form.
    @Test(arguments: [
        ("👍\u{FE0F}", "👍"),
        ("1\u{20E3}", "1️⃣"),
        ("❤\u{200D}🔥", "❤️‍🔥"),
        ("🏳\u{FE0F}\u{200D}🌈", "🏳️‍🌈"),
        ("🏳\u{200D}🌈", "🏳️‍🌈"),
        ("🏃🏾\u{200D}♀", "🏃🏾‍♀️"),
        ("😀\u{FE0F}", "😀"),
        // Text-default emoji without their selector (UTS #51's unqualified forms).
        ("❤", "❤️"),
        ("©", "©️"),
        ("☝", "☝️"),
        ("🕵\u{200D}♂", "🕵️‍♂️"),
        ("👁\u{200D}🗨", "👁️‍🗨️"),
    ])
    func equivalentFormsAreOne(_ text: String, _ qualified: String) throws {
        let canonical = try Validation.emoji(text)
        #expect(Array(canonical.unicodeScalars) == Array(qualified.unicodeScalars), "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
        #expect(try Validation.emoji(canonical) == canonical)
    }

    /// The fully-qualified form of the longest sequence accepted is accepted too, though
    /// the selectors it gains make it longer: a client sends back what it was given.
    @Test func aFullyQualifiedFormIsAcceptedAgain() throws {
        let hearts = Array(repeating: "❤", count: 7).joined(separator: "\u{200D}") + "\u{200D}❤️"
        #expect(hearts.unicodeScalars.count == 16 && hearts.count == 1)
        let canonical = try Validation.emoji(hearts)
        #expect(canonical.unicodeScalars.count == 23)
        #expect(try Validation.emoji(canonical) == canonical)
    }

    @Test(arguments: [
        "a", "1", "ab", "", "👍👍", "👍 ", " 👍", "#", "*", "é", "👍\u{301}", "1\u{200D}", "\u{FE0F}", "\u{200D}", "ж", "中",
        // Grapheme rules keep these together, yet they show as text or as another emoji.
        "1\u{FE0F}", "#\u{FE0F}", "*\u{FE0F}", "👍\u{200D}", "👍\u{200D}\u{200D}", "\u{200D}👍", "👍\u{FE0F}\u{FE0F}", "👍\u{E0061}",
        // Pairs of regional indicators naming no region, and subdivisions with no flag of their own.
        "🇺🇺", "🇦🇦", "🇿🇿", "🇽🇽", "🏴\u{E0075}\u{E0073}\u{E0063}\u{E0061}\u{E007F}",
        "🇫🇷\u{200D}", "🇫", "🏽🏽", "👍🏽🏽", "👍\u{20E3}", "😀\u{FE0E}", "🏴\u{E0067}\u{E0062}", "👍\u{E0067}\u{E007F}", "👍🏽\u{FE0F}",
    ])
    func rejectsNonEmoji(_ text: String) {
        #expect {
            try Validation.emoji(text)
        } throws: { error in
            guard case ChatFlowError.invalid(let message) = error else { return false }
            return message.hasPrefix("emoji must be exactly one emoji")
        }
    }

    @Test func emojiErrorsSayWhatWasWrong() {
        #expect(throws: ChatFlowError.invalid("emoji must be exactly one emoji, such as 👍 (got 2 characters)")) {
            try Validation.emoji("👍👍")
        }
        #expect(throws: ChatFlowError.invalid("emoji must be exactly one emoji, such as 👍 (got \"a\", which is not an emoji)")) {
            try Validation.emoji("a")
        }
    }

    // MARK: - User ids

    @Test(arguments: ["a", "alice", "Bob_Smith-2.0", "___", String(repeating: "x", count: 64), "...", ".a"])
    func acceptsUserIDs(_ text: String) throws {
        #expect(try UserID(validating: text).rawValue == text)
    }

    @Test(arguments: ["", String(repeating: "x", count: 65), "al ice", "alice@example", "ålice", "a/b", "a\n", "👍", ".", ".."])
    func rejectsUserIDs(_ text: String) {
        #expect {
            try UserID(validating: text)
        } throws: { error in
            guard case ChatFlowError.invalid(let message) = error else { return false }
            return message.hasPrefix("user id ")
        }
    }

    @Test func userIDErrorsSayWhatWasWrong() {
        #expect(throws: ChatFlowError.invalid(
            "user id must be 1–64 characters of A-Z, a-z, 0-9, '_', '.' or '-' (got 65)")) {
            try UserID(validating: String(repeating: "x", count: 65))
        }
        #expect(throws: ChatFlowError.invalid(
            "user id may contain only A-Z, a-z, 0-9, '_', '.' or '-' (found a disallowed character at position 3)")) {
            try UserID(validating: "al ice")
        }
    }

    @Test func userIDsOrderAndPrintAsText() throws {
        let ids = try ["bob", "Alice", "alice", "al", "_x", "0"].map { text throws(ChatFlowError) in try UserID(validating: text) }
        #expect(ids.sorted().map(\.rawValue) == ["0", "Alice", "_x", "al", "alice", "bob"])
        #expect(try UserID(validating: "alice").description == "alice")
        #expect(UserID(unchecked: "alice") == (try UserID(validating: "alice")))
    }

    // MARK: - Chat and message ids

    @Test func chatAndMessageIDsParseTheirTextForm() throws {
        let ulid = ULID(timestamp: 1_767_225_600_000, randomHigh: 0x1234, randomLow: 0xDEAD_BEEF)
        #expect(try ChatID(parsing: ulid.description) == ChatID(ulid))
        #expect(try MessageID(parsing: ulid.description) == MessageID(ulid))
        #expect(ChatID(ulid).description == ulid.description)
        #expect(MessageID(ulid).description == ulid.description)
        #expect(ChatID(ULID(high: 1, low: 0)) < ChatID(ULID(high: 1, low: 1)))
        #expect(MessageID(ULID(high: 0, low: .max)) < MessageID(ULID(high: 1, low: 0)))
    }

    @Test func badIDsNameTheFieldAndTheReason() {
        #expect(throws: ChatFlowError.invalid("chat id is not a valid id: an id has 26 characters, this one has 3")) {
            try ChatID(parsing: "abc")
        }
        #expect(throws: ChatFlowError.invalid(
            "message id is not a valid id: '!' at position 2 is not a Crockford base32 character")) {
            try MessageID(parsing: "0!000000000000000000000000")
        }
        #expect(throws: ChatFlowError.invalid(
            "chat id is not a valid id: the id is larger than 128 bits (its first character must be 0–7)")) {
            try ChatID(parsing: "8ZZZZZZZZZZZZZZZZZZZZZZZZZ")
        }
    }

    // MARK: - Errors

    @Test func errorsDescribeThemselves() {
        #expect(ChatFlowError.invalid("bad").description == "invalid: bad")
        #expect(ChatFlowError.notFound("chat X").description == "not found: chat X")
        #expect(ChatFlowError.forbidden("no").description == "forbidden: no")
        #expect(ChatFlowError.conflict("twice").description == "conflict: twice")
        #expect(ChatFlowError.unavailable("later").description == "unavailable: later")
        #expect(ChatFlowError.forbidden("only the author may edit a message").detail == "only the author may edit a message")
    }
}
