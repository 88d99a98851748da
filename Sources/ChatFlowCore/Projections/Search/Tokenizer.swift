/// Turns message text and query words into search terms.
///
/// Indexing and querying both go through here, so a word folds the same way on both
/// sides: "Café", "CAFE" and "cafe" all become the term `cafe` (see ``fold(_:)``).
///
/// Text splits into tokens at whitespace, punctuation and symbols. A token
/// may join several parts with `-`, `.`, `_`, `@` or an apostrophe — `PLT-3699`,
/// `example.com`, `bob@example.com`, `don't` — and then yields each part as a term,
/// followed by the whole token (`plt-3699`). Apostrophes are left out of the whole token,
/// so `don't` yields `don`, `t` and `dont`, and a search for either spelling finds it.
/// `/`, `:`, `?`, `=`, `&` and `#` separate tokens, which breaks a URL into its host,
/// path segments and parameters. Han, Hiragana and Katakana characters are each a term of
/// their own, because those scripts do not put spaces between words, and so is each emoji
/// (symbols Unicode calls emoji, `©` and `❤` too): the parts of a sequence (`👨‍👩‍👧` is
/// `👨 👩 👧`; a flag is one) without skin tones and variation selectors, so `👍` finds
/// `👍🏽`. Emoji are not words of phrases: "happy birthday" is found in "happy 🎂 birthday".
/// Half-width katakana
/// are the full-width ones, and a Roman numeral of one code point (Ⅻ) is its letters.
///
/// Terms are at most ``maxTermLength`` UTF-8 bytes and never contain the bytes 0x00 or
/// 0xFF, so a storage key can embed one followed by a 0x00 terminator. A longer part is cut
/// at a scalar boundary, the same way for a message and a query; a longer whole token is
/// left out, its parts still being indexed.
public enum Tokenizer {
    /// The longest term, in UTF-8 bytes.
    public static let maxTermLength = 64

    /// The index terms of `text`, in order and with duplicates: for each token its parts,
    /// then its whole form when it has more than one part.
    public static func terms(_ text: String) -> [String] {
        var segmenter = Segmenter(sink: TermCollector())
        segmenter.run(text)
        return segmenter.sink.terms
    }

    /// The words of `text`, in order and with duplicates: the parts of every token but
    /// emoji, without the whole-token forms that ``terms(_:)`` adds. Phrases are matched
    /// against this sequence, so `"see PLT-3699"` finds "see PLT-3699" as the words
    /// `see plt 3699`.
    public static func words(_ text: String) -> [String] {
        var segmenter = Segmenter(sink: WordCollector())
        segmenter.run(text)
        return segmenter.sink.words
    }

    /// Whether `phraseTerms` occur one after another in `messageWords`, which should come
    /// from ``words(_:)`` (not ``terms(_:)``, whose whole-token forms would sit between the
    /// words of a phrase). An empty phrase is contained in anything.
    public static func containsPhrase(_ phraseTerms: [String], in messageWords: [String]) -> Bool {
        guard !phraseTerms.isEmpty else { return true }
        guard phraseTerms.count <= messageWords.count else { return false }
        let first = phraseTerms[0]
        var start = 0
        while start <= messageWords.count - phraseTerms.count {
            if messageWords[start] == first {
                var offset = 1
                while offset < phraseTerms.count, messageWords[start + offset] == phraseTerms[offset] {
                    offset += 1
                }
                if offset == phraseTerms.count { return true }
            }
            start += 1
        }
        return false
    }

    /// Whether `phraseTerms` occur one after another among the words of `text`.
    public static func containsPhrase(_ phraseTerms: [String], inText text: String) -> Bool {
        containsPhrase(phraseTerms, in: words(text))
    }

    /// Whether `term` (from ``terms(_:)``) is an emoji.
    static func isEmoji(_ term: String) -> Bool {
        guard let first = term.unicodeScalars.first, first.value >= 0x80 else { return false }
        return first.properties.isEmoji
    }

    /// Whether `scalar` joins the parts of a token, as the segmenter reads it: `-`, `.`, `_`,
    /// `@`, apostrophes and hyphens, also in full width.
    static func isJoiner(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x2D, 0x2E, 0x40, 0x5F, 0x27, 0x2018, 0x2019, 0x02BC, 0x2010, 0x2011: true
        case 0xFF01...0xFF5E: isJoiner(Unicode.Scalar(scalar.value - 0xFEE0)!)
        default: false
        }
    }

    /// The tokens of `text`, each with its parts and whole form; the query parser needs to
    /// know which parts belong together.
    static func tokens(_ text: String) -> [Token] {
        var segmenter = Segmenter(sink: TokenCollector())
        segmenter.run(text)
        return segmenter.sink.tokens
    }
}

extension Tokenizer {
    /// A run of text between separators: one part, or several joined by `-`, `.`, `_`, `@`
    /// or apostrophes.
    struct Token: Equatable {
        var parts: [String]
        /// The folded token with its joiners (apostrophes omitted); nil for a single part or
        /// when longer than ``Tokenizer/maxTermLength``.
        var whole: String?
    }
}

// MARK: - Segmenting

/// Receives tokens as the segmenter finds them; generic so each use is specialized.
private protocol TokenSink {
    mutating func part(_ term: String)
    /// Ends the token whose parts were just reported.
    mutating func endToken(whole: String?)
}

private struct TermCollector: TokenSink {
    var terms: [String] = []
    mutating func part(_ term: String) { terms.append(term) }
    mutating func endToken(whole: String?) {
        if let whole { terms.append(whole) }
    }
}

private struct WordCollector: TokenSink {
    var words: [String] = []
    mutating func part(_ term: String) {
        if !Tokenizer.isEmoji(term) { words.append(term) }
    }
    mutating func endToken(whole: String?) {}
}

private struct TokenCollector: TokenSink {
    var tokens: [Tokenizer.Token] = []
    private var parts: [String] = []
    mutating func part(_ term: String) { parts.append(term) }
    mutating func endToken(whole: String?) {
        tokens.append(Tokenizer.Token(parts: parts, whole: whole))
        parts.removeAll(keepingCapacity: true)
    }
}

/// Splits UTF-8 text into tokens in one pass over its bytes.
///
/// ASCII bytes are classified and lowercased inline, letters below U+3000 are looked up
/// already folded in ``Tokenizer/ScalarTable``, and Han, Kana and Hangul need no folding;
/// a part made only of those becomes a term without further work, which keeps the rebuild
/// hot path fast. A part with a combining mark or any other letter goes through
/// ``Tokenizer/fold(_:)`` once it is complete.
private struct Segmenter<Sink: TokenSink> {
    var sink: Sink

    private let table = Tokenizer.ScalarTable.shared
    /// Bytes of the current part, folded unless `partNeedsFold`.
    private var part: [UInt8] = []
    private var partNeedsFold = false
    /// Combining class of the last `plainMark` appended, 0 after a letter.
    private var lastCombiningClass: UInt8 = 0
    /// The current part is a single Han or Kana character or emoji, open only to combining marks.
    private var partIsUnigram = false
    /// The current part is one regional letter, which the next makes a flag.
    private var partIsRegionalLetter = false
    /// Folded parts of the current token and the joiners between them.
    private var whole: [UInt8] = []
    private var partCount = 0
    /// The joiner after the last part, or 0; it joins only if a letter or digit follows.
    private var pendingJoiner: UInt8 = 0

    private static var apostrophe: UInt8 { 0x27 }

    init(sink: Sink) {
        self.sink = sink
        part.reserveCapacity(Tokenizer.maxTermLength)
        whole.reserveCapacity(Tokenizer.maxTermLength)
    }

    mutating func run(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte < 0x80 {
                    ascii(byte)
                    index += 1
                    continue
                }
                // String storage is valid UTF-8, so the lead byte gives the length.
                let length = byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4
                var value = UInt32(byte) & (byte < 0xE0 ? 0x1F : byte < 0xF0 ? 0x0F : 0x07)
                for offset in 1..<length {
                    value = value << 6 | UInt32(bytes[index + offset] & 0x3F)
                }
                scalar(value, utf8: UnsafeBufferPointer(rebasing: bytes[index..<(index + length)]))
                index += length
            }
        }
        endToken()
    }

    private mutating func ascii(_ byte: UInt8) {
        switch byte {
        case 0x61...0x7A, 0x30...0x39:
            startPart()
            part.append(byte)
        case 0x41...0x5A:
            startPart()
            part.append(byte | 0x20)
        case 0x2D, 0x2E, 0x40, 0x5F, Self.apostrophe:  // as `Tokenizer.isJoiner` says
            joiner(byte)
        default:
            endToken()
        }
    }

    private mutating func scalar(_ value: UInt32, utf8: UnsafeBufferPointer<UInt8>) {
        switch value {
        case 0xFF01...0xFF5E:
            // Full-width ASCII, as typed with CJK input methods.
            return ascii(UInt8(value - 0xFEE0))
        case 0x2018, 0x2019, 0x02BC:
            return joiner(Self.apostrophe)
        case 0x2010, 0x2011:
            return joiner(0x2D)
        case 0x200B:
            // Zero-width space marks word breaks in Thai, Khmer and others.
            return endToken()
        case 0xFF66...0xFF9F:
            // Half-width katakana and voicing marks: as the full-width ones, so a voicing
            // mark composes with the kana before it.
            return substitute(Tokenizer.fullWidthKana(value)!)
        case 0x2160...0x217F:
            return Tokenizer.romanNumeralLetters(value)!.utf8.forEach { ascii($0) }
        case 0x3041...0x3096, 0x309D...0x309F, 0x30A1...0x30FA, 0x30FC...0x30FF,
             0x3400...0x4DBF, 0x4E00...0x9FFF:
            // Kana and CJK ideographs: letters without case, and any decomposition composes back.
            return unigram(utf8)
        case 0xAC00...0xD7A3:
            // Hangul syllables, all letters that compose back to themselves.
            startPart()
            part.append(contentsOf: utf8)
            return
        case ..<Tokenizer.ScalarTable.limit:
            let index = Int(value)
            switch table.kinds[index] {
            case .letter:
                startPart()
                part.append(contentsOf: table.folded(index))
            case .composingLetter:
                startPart()
                part.append(contentsOf: utf8)
                partNeedsFold = true
            case .plainMark:
                guard !part.isEmpty else { return }
                let combiningClass = table.combiningClass[index]
                if combiningClass != 0, combiningClass < lastCombiningClass {
                    // Out of canonical order: folding reorders it.
                    partNeedsFold = true
                }
                part.append(contentsOf: utf8)
                lastCombiningClass = combiningClass
            case .mark:
                mark(utf8)
            case .diacritic, .ignorable:
                break
            case .unigram:
                unigram(utf8)
            case .emoji:
                emoji(value, utf8)
            case .separator:
                endToken()
            }
            return
        default:
            break
        }
        guard let scalar = Unicode.Scalar(value) else { return endToken() }
        switch Tokenizer.ScalarTable.kind(of: scalar) {
        case .letter, .composingLetter:
            startPart()
            part.append(contentsOf: utf8)
            partNeedsFold = true
        case .unigram:
            unigram(utf8)
            // Compatibility ideographs decompose to unified ones; kana compose back to themselves.
            if (0xF900...0xFAFF).contains(value) || (0x2F800...0x2FA1F).contains(value) {
                partNeedsFold = true
            }
        case .emoji:
            emoji(value, utf8)
        case .mark, .plainMark, .diacritic:
            mark(utf8)
        case .ignorable:
            // Soft hyphens, joiners, variation selectors, skin tones: invisible, or part of
            // what they follow, so they neither join nor split.
            break
        case .separator:
            endToken()
        }
    }

    /// Segments `value` (in the Basic Multilingual Plane, past U+07FF) in place of the
    /// scalar read.
    private mutating func substitute(_ value: UInt32) {
        let utf8: (UInt8, UInt8, UInt8) = (0xE0 | UInt8(value >> 12), 0x80 | UInt8(value >> 6 & 0x3F), 0x80 | UInt8(value & 0x3F))
        withUnsafeBytes(of: utf8) { bytes in
            scalar(value, utf8: bytes.assumingMemoryBound(to: UInt8.self))
        }
    }

    private mutating func unigram(_ utf8: UnsafeBufferPointer<UInt8>) {
        endToken()
        part.append(contentsOf: utf8)
        partIsUnigram = true
    }

    private mutating func emoji(_ value: UInt32, _ utf8: UnsafeBufferPointer<UInt8>) {
        let regional = (0x1F1E6...0x1F1FF).contains(value)
        if regional && partIsRegionalLetter {
            part.append(contentsOf: utf8)
            partIsRegionalLetter = false
            return
        }
        unigram(utf8)
        partIsRegionalLetter = regional
    }

    private mutating func mark(_ utf8: UnsafeBufferPointer<UInt8>) {
        // A mark belongs to the letter before it; with none, it is dropped.
        guard !part.isEmpty else { return }
        part.append(contentsOf: utf8)
        partNeedsFold = true
    }

    private mutating func joiner(_ byte: UInt8) {
        guard !part.isEmpty, !partIsUnigram else { return endToken() }
        flushPart()
        pendingJoiner = byte
    }

    private mutating func startPart() {
        lastCombiningClass = 0
        if partIsUnigram {
            endToken()
        } else if pendingJoiner != 0 {
            if pendingJoiner != Self.apostrophe { whole.append(pendingJoiner) }
            pendingJoiner = 0
        }
    }

    private mutating func flushPart() {
        var term = String(decoding: part, as: UTF8.self)
        if partNeedsFold {
            term = Tokenizer.fold(term)
        }
        term = Tokenizer.truncated(term)
        part.removeAll(keepingCapacity: true)
        partNeedsFold = false
        partIsUnigram = false
        partIsRegionalLetter = false
        lastCombiningClass = 0
        guard !term.isEmpty else { return }
        sink.part(term)
        partCount += 1
        if whole.count <= Tokenizer.maxTermLength {
            whole.append(contentsOf: term.utf8)
        }
    }

    private mutating func endToken() {
        if !part.isEmpty { flushPart() }
        pendingJoiner = 0
        guard partCount > 0 else { return }
        if partCount > 1, whole.count <= Tokenizer.maxTermLength {
            sink.endToken(whole: String(decoding: whole, as: UTF8.self))
        } else {
            sink.endToken(whole: nil)
        }
        partCount = 0
        whole.removeAll(keepingCapacity: true)
    }
}
