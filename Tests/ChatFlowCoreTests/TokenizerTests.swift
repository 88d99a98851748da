import Foundation
import Testing

@testable import ChatFlowCore

@Suite struct TokenizerTests {
    // MARK: - Folding

    @Test(arguments: [
        ("Café", "cafe"),
        ("ÉCOLE", "ecole"),
        ("Straße", "strasse"),
        ("STRASSE", "strasse"),
        ("Ñandú", "nandu"),
        ("ΑΘΗΝΑ", "αθηνα"),
        ("Αθήνα", "αθηνα"),
        ("ΟΔΟΣ", "οδοσ"),
        ("οδος", "οδοσ"),
        ("Москва", "москва"),
        ("Ёлка", "елка"),
        ("Łódź", "lodz"),
        ("Việt", "viet"),
        ("Đà", "da"),
        ("Ærø", "aero"),
        ("İstanbul", "istanbul"),
        ("ＡＢＣ１２３", "abc123"),
        ("٣٤", "34"),
        ("ﬁne", "fine"),
        ("ǅep", "dzep"),
        ("ǄEP", "dzep"),
        ("džep", "dzep"),
        ("ǈubav", "ljubav"),
        ("ǋegoš", "njegos"),
        ("ĲSSEL", "ijssel"),
        ("H₂O", "h2o"),
        ("x²", "x2"),
    ])
    func foldsCaseAndAccents(word: String, folded: String) {
        #expect(Tokenizer.fold(word) == folded)
        #expect(Tokenizer.terms(word) == [folded])
    }

    @Test func keepsLettersThatAreNotAccentedVariants() {
        #expect(Tokenizer.terms("Й й ў Ї") == ["й", "й", "ў", "ї"])
        #expect(Tokenizer.terms("が") == ["が"])
        #expect(Tokenizer.terms("हिन्दी") == ["हिन्दी"])
    }

    @Test func cafeFindsCafeWhicheverWayItIsWritten() {
        let forms = ["Café", "café", "CAFÉ", "cafe", "CAFE", "Cafe\u{301}", "ｃａｆé"]
        for form in forms {
            #expect(Tokenizer.terms(form) == ["cafe"], "\(form)")
        }
    }

    @Test func canonicallyEquivalentTextFoldsAlike() {
        #expect(Tokenizer.terms("Ñandú") == Tokenizer.terms("N\u{303}andu\u{301}"))
        #expect(Tokenizer.terms("й") == Tokenizer.terms("и\u{306}"))
        #expect(Tokenizer.terms("が") == Tokenizer.terms("か\u{3099}"))
        #expect(Tokenizer.terms("한국") == Tokenizer.terms("\u{1112}\u{1161}\u{11AB}\u{1100}\u{116E}\u{11A8}"))
        #expect(Tokenizer.terms("ệ") == Tokenizer.terms("e\u{302}\u{323}"))
        #expect(Tokenizer.terms("ᾳ") == Tokenizer.terms("α\u{345}"))
        #expect(Tokenizer.terms("ệ") == Tokenizer.terms("e\u{323}\u{302}"))
        // Indic marks out of canonical order (nukta, ccc 7, after virama, ccc 9).
        #expect(Tokenizer.terms("क\u{94D}\u{93C}") == Tokenizer.terms("क\u{93C}\u{94D}"))
    }

    /// The segmenter folds most letters from a precomputed table; it must agree with
    /// `fold` on every letter and mark it knows, inside a word. (U+02BC is an apostrophe.)
    @Test func tableFoldingAgreesWithFold() {
        for value in UInt32(0x80)..<Tokenizer.ScalarTable.limit where value != 0x02BC {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let kind = Tokenizer.ScalarTable.kind(of: scalar)
            let word: String
            switch kind {
            case .letter: word = "x\(scalar)y"
            case .mark: word = "a\(scalar)b\u{915}\(scalar)\u{94D}"
            default: continue
            }
            #expect(Tokenizer.words(word) == [Tokenizer.truncated(Tokenizer.fold(word))], "U+\(String(value, radix: 16))")
        }
    }

    // MARK: - Splitting

    @Test func splitsOnWhitespaceAndPunctuation() {
        #expect(Tokenizer.terms("hello, world!") == ["hello", "world"])
        #expect(Tokenizer.terms("  tabs\tand\nnewlines  ") == ["tabs", "and", "newlines"])
        #expect(Tokenizer.terms("(quoted) \"text\"; [more]{x} a/b") == ["quoted", "text", "more", "x", "a", "b"])
        #expect(Tokenizer.terms("") == [])
        #expect(Tokenizer.terms("!!! ... ---") == [])
    }

    @Test func joinersOnlyJoinBetweenLettersOrDigits() {
        #expect(Tokenizer.terms("-foo- .bar. _x_ end.") == ["foo", "bar", "x", "end"])
        #expect(Tokenizer.terms("a--b") == ["a", "b"])
        #expect(Tokenizer.terms("a-b-c") == ["a", "b", "c", "a-b-c"])
    }

    @Test func urlsYieldHostPathAndParameters() {
        let terms = Tokenizer.terms("see https://example.com/path?q=1")
        #expect(terms == ["see", "https", "example", "com", "example.com", "path", "q", "1"])
    }

    @Test func codesAreIndexedWholeAndByPart() {
        #expect(Tokenizer.terms("PLT-3699") == ["plt", "3699", "plt-3699"])
        #expect(Tokenizer.terms("user_id") == ["user", "id", "user_id"])
        #expect(Tokenizer.words("PLT-3699") == ["plt", "3699"])
    }

    @Test func emailAddresses() {
        #expect(Tokenizer.terms("bob@example.com") == ["bob", "example", "com", "bob@example.com"])
    }

    @Test func apostrophesSplitAndAlsoJoin() {
        #expect(Tokenizer.terms("don't") == ["don", "t", "dont"])
        #expect(Tokenizer.terms("don’t") == ["don", "t", "dont"])
        #expect(Tokenizer.terms("l'école") == ["l", "ecole", "lecole"])
        #expect(Tokenizer.terms("'quoted'") == ["quoted"])
        #expect(Tokenizer.words("don't stop") == ["don", "t", "stop"])
    }

    @Test func numbersAreKept() {
        #expect(Tokenizer.terms("version 2.0 costs 1,000 or 42") == ["version", "2", "0", "2.0", "costs", "1", "000", "or", "42"])
    }

    @Test func symbolsAreDroppedAndEmojiAreTermsOfTheirOwn() {
        #expect(Tokenizer.terms("1 → 2 ½ ∑ !") == ["1", "2"])
        #expect(Tokenizer.terms("party🎉🎉 time 👍🏽 👨‍👩‍👧 ❤️ © 🇯🇵") == ["party", "🎉", "🎉", "time", "👍", "👨", "👩", "👧", "❤", "©", "🇯🇵"])
        #expect(Tokenizer.terms("❤") == ["❤"])
        // Flags pair up from the start, as they are drawn: 🇦🇺🇸🇪 holds no 🇺🇸.
        #expect(Tokenizer.terms("🇦🇺🇸🇪🇫") == ["🇦🇺", "🇸🇪", "🇫"])
        // Keycaps of # and * are not indexed (their base is punctuation).
        #expect(Tokenizer.terms("#️⃣ *️⃣") == [])
        // Not words of phrases.
        #expect(Tokenizer.words("so👍🏻good 🇯🇵 ©") == ["so", "good"])
    }

    @Test func invisibleCharactersNeitherJoinNorSplit() {
        #expect(Tokenizer.terms("co\u{AD}operate") == ["cooperate"])
        #expect(Tokenizer.terms("\u{FEFF}hello") == ["hello"])
        #expect(Tokenizer.terms("one\u{200B}two") == ["one", "two"])
    }

    @Test func cjkCharactersAreTermsOfTheirOwn() {
        #expect(Tokenizer.terms("東京タワーに行く") == ["東", "京", "タ", "ワ", "ー", "に", "行", "く"])
        #expect(Tokenizer.terms("iPhone用") == ["iphone", "用"])
        #expect(Tokenizer.terms("用-x") == ["用", "x"])
        #expect(Tokenizer.terms("한국어 검색") == ["한국어", "검색"])
    }

    @Test func halfWidthKatakanaAreTheFullWidthOnes() {
        #expect(Tokenizer.terms("ｶﾀｶﾅ") == Tokenizer.terms("カタカナ"))
        #expect(Tokenizer.terms("ｶﾞｲﾄﾞﾌﾞｯｸ") == ["ガ", "イ", "ド", "ブ", "ッ", "ク"])
        #expect(Tokenizer.terms("ﾊﾟｰﾃｨｰ") == Tokenizer.terms("パーティー"))
        // A voicing mark with no kana before it belongs to nothing.
        #expect(Tokenizer.terms("ﾞa") == ["a"])
        // Every one as its compatibility form (NFKC) segments, alone and voiced.
        #expect("ｶﾞ".precomposedStringWithCompatibilityMapping == "ガ")
        for value in UInt32(0xFF66)...0xFF9D {
            let kana = String(Unicode.Scalar(value)!)
            for text in [kana, kana + "ﾞ", kana + "ﾟ", "a" + kana + "1"] {
                #expect(Tokenizer.terms(text) == Tokenizer.terms(text.precomposedStringWithCompatibilityMapping), "\(text)")
                #expect(Tokenizer.fold(text) == Tokenizer.fold(text.precomposedStringWithCompatibilityMapping), "\(text)")
            }
        }
    }

    @Test func romanNumeralsAreTheirLetters() {
        #expect(Tokenizer.terms("Chapter Ⅻ") == ["chapter", "xii"])
        #expect(Tokenizer.terms("Louis ⅹⅳ") == ["louis", "xiv"])
        #expect(Tokenizer.terms("Ⅱ-3") == ["ii", "3", "ii-3"])
        #expect("Ⅻ".precomposedStringWithCompatibilityMapping == "XII")
        for value in UInt32(0x2160)...0x217F {
            let numeral = String(Unicode.Scalar(value)!)
            for text in [numeral, "a" + numeral + "b"] {
                #expect(Tokenizer.terms(text) == Tokenizer.terms(text.precomposedStringWithCompatibilityMapping), "\(text)")
                #expect(Tokenizer.fold(text) == Tokenizer.fold(text.precomposedStringWithCompatibilityMapping), "\(text)")
            }
        }
    }

    @Test func otherScripts() {
        #expect(Tokenizer.terms("שָׁלוֹם مَرْحَبًا") == ["שלום", "مرحبا"])
        #expect(Tokenizer.terms("नमस्ते दुनिया") == ["नमस्ते", "दुनिया"])
    }

    // MARK: - Limits

    @Test func longTermsAreCappedAtAScalarBoundary() {
        let long = String(repeating: "a", count: 200)
        #expect(Tokenizer.terms(long) == [String(repeating: "a", count: Tokenizer.maxTermLength)])
        #expect(Tokenizer.terms(long) == Tokenizer.terms(long + "bcd"))

        let accented = String(repeating: "ж", count: 100)
        let terms = Tokenizer.terms(accented)
        #expect(terms == [String(repeating: "ж", count: Tokenizer.maxTermLength / 2)])

        let cut = Tokenizer.terms("a" + String(repeating: "ж", count: 100))
        #expect(cut.count == 1 && cut[0].utf8.count == Tokenizer.maxTermLength - 1)
    }

    @Test func longWholeTokensAreLeftOutButTheirPartsStay() {
        let host = Array(repeating: "segment", count: 12).joined(separator: ".")
        let terms = Tokenizer.terms(host)
        #expect(terms == Array(repeating: "segment", count: 12))
    }

    @Test func termsNeverContainZeroOrFFBytes() {
        var text = "a\u{0}b \u{0}\u{0} c\u{7F}d "
        for value in stride(from: UInt32(0), to: 0x3_0000, by: 7) {
            if let scalar = Unicode.Scalar(value) { text.unicodeScalars.append(scalar) }
            if value % 91 == 0 { text += " " }
        }
        let terms = Tokenizer.terms(text)
        #expect(!terms.isEmpty)
        for term in terms {
            #expect(!term.isEmpty)
            #expect(term.utf8.count <= Tokenizer.maxTermLength)
            #expect(!term.utf8.contains(0x00) && !term.utf8.contains(0xFF))
        }
        #expect(Tokenizer.terms("a\u{0}b") == ["a", "b"])
        #expect(!Tokenizer.fold("a\u{0}b").utf8.contains(0))
        #expect(!Tokenizer.fold("é\u{0}b").utf8.contains(0))
    }

    // MARK: - Phrases

    @Test func phraseContainment() {
        let words = Tokenizer.words("The quick brown fox")
        #expect(Tokenizer.containsPhrase(["quick", "brown"], in: words))
        #expect(Tokenizer.containsPhrase(["the"], in: words))
        #expect(Tokenizer.containsPhrase(["brown", "fox"], in: words))
        #expect(!Tokenizer.containsPhrase(["brown", "quick"], in: words))
        #expect(!Tokenizer.containsPhrase(["quick", "fox"], in: words))
        #expect(!Tokenizer.containsPhrase(["fox", "jumps"], in: words))
        #expect(Tokenizer.containsPhrase([], in: words))
        #expect(!Tokenizer.containsPhrase(["a"], in: []))
    }

    @Test func phrasesSpanJoinedTokensAndRepeats() {
        #expect(Tokenizer.containsPhrase(["see", "plt", "3699", "today"], inText: "See PLT-3699 today"))
        #expect(Tokenizer.containsPhrase(["a", "a", "b"], inText: "a a a b"))
        #expect(Tokenizer.containsPhrase(["東", "京"], inText: "東京タワー"))
        #expect(!Tokenizer.containsPhrase(["京", "東"], inText: "東京タワー"))
    }

    // MARK: - Throughput

    @Test func tokenizesALargeText() {
        let sentence = "Deploy of PLT-3699 is done, café at https://example.com/path?q=1 — ping bob@example.com 東京 "
        let text = String(repeating: sentence, count: 100_000 / 12)
        let terms = Tokenizer.terms(text)
        #expect(terms.count > 100_000)
    }
}
