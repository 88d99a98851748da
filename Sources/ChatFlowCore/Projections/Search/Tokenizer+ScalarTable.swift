extension Tokenizer {
    /// How the segmenter treats a scalar, with the class and folded form of every scalar
    /// below U+3000 — the alphabets, abjads and abugidas — computed once (a few
    /// milliseconds on first use), because Unicode property lookups cost tens of
    /// nanoseconds each and would otherwise dominate tokenizing.
    ///
    /// Folding a `letter` on its own gives the same bytes as folding it inside a word:
    /// letters are starters, and apart from the Hangul vowel and final jamo none composes
    /// canonically with the scalar before it. A `plainMark` needs no folding either as long
    /// as marks arrive in canonical order; the segmenter checks that with `combiningClass`.
    struct ScalarTable: Sendable {
        enum Kind: UInt8, Sendable {
            case separator
            /// A letter or decimal digit, part of a word; its folded bytes are in the table.
            case letter
            /// A letter whose part must be folded whole: it may compose with the scalar
            /// before it, or its folded form ends in a mark.
            case composingLetter
            /// A Han or Kana character, a term on its own.
            case unigram
            /// An emoji, a term on its own (two regional letters, a flag, together).
            case emoji
            /// A combining mark that folding removes (an accent).
            case diacritic
            /// A combining mark that folding keeps unchanged and that composes with nothing.
            case plainMark
            /// Any other combining mark; its part must be folded whole.
            case mark
            /// Invisible and ignored: soft hyphens, joiners, variation selectors, skin tones.
            case ignorable
        }

        static let limit: UInt32 = 0x3000
        static let shared = ScalarTable()

        /// Indexed by scalar value.
        let kinds: [Kind]
        /// Canonical combining class of each `plainMark`, indexed by scalar value.
        let combiningClass: [UInt8]
        /// The folded bytes of letter `v` are `bytes[starts[v]..<starts[v + 1]]`.
        private let starts: [UInt32]
        private let bytes: [UInt8]

        private init() {
            var kinds: [Kind] = []
            var combiningClass: [UInt8] = []
            var starts: [UInt32] = [0]
            var bytes: [UInt8] = []
            for value in 0..<Self.limit {
                let scalar = Unicode.Scalar(value) ?? "\u{0}"
                var kind = Self.kind(of: scalar)
                var folded = ""
                if kind == .letter {
                    folded = Tokenizer.fold(String(scalar))
                    let endsInMark = folded.unicodeScalars.last.map {
                        $0.properties.canonicalCombiningClass != .notReordered
                    } ?? false
                    if Self.composesWithPrevious(value) || endsInMark {
                        kind = .composingLetter
                        folded = ""
                    }
                } else if kind == .mark {
                    let foldedMark = Tokenizer.fold(String(scalar))
                    if foldedMark.isEmpty, value != 0x0306, value != 0x0308 {
                        // U+0306 and U+0308 stay marks: folding keeps them on Cyrillic й, ў and ї.
                        kind = .diacritic
                    } else if !Self.composesWithPrevious(value), foldedMark == String(scalar) {
                        kind = .plainMark
                    }
                }
                kinds.append(kind)
                combiningClass.append(kind == .plainMark ? scalar.properties.canonicalCombiningClass.rawValue : 0)
                bytes.append(contentsOf: folded.utf8)
                starts.append(UInt32(bytes.count))
            }
            self.kinds = kinds
            self.combiningClass = combiningClass
            self.starts = starts
            self.bytes = bytes
        }

        func folded(_ value: Int) -> ArraySlice<UInt8> {
            bytes[Int(starts[value])..<Int(starts[value + 1])]
        }

        /// Scalars below U+3000 that canonical composition may merge into the scalar
        /// before them and that are not diacritics (Unicode's NFC_Quick_Check=Maybe).
        private static func composesWithPrevious(_ value: UInt32) -> Bool {
            switch value {
            case 0x093C, 0x09BE, 0x09D7, 0x0B3E, 0x0B56, 0x0B57, 0x0BBE, 0x0BD7, 0x0C56,
                 0x0CC2, 0x0CD5, 0x0CD6, 0x0D3E, 0x0D57, 0x0DCA, 0x0DCF, 0x0DDF, 0x102E,
                 0x1161...0x1175, 0x11A8...0x11C2, 0x1B35:
                return true
            default:
                return false
            }
        }

        static func kind(of scalar: Unicode.Scalar) -> Kind {
            let properties = scalar.properties
            if properties.isDefaultIgnorableCodePoint { return .ignorable }
            switch properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
                return isUnigramScript(scalar.value) ? .unigram : .letter
            case .decimalNumber:
                return .letter
            case .otherNumber where properties.numericType == .digit:
                // Superscript, subscript and circled digits: "H₂O" is the word "h2o".
                return .letter
            case .nonspacingMark, .spacingMark, .enclosingMark:
                return .mark
            default:
                // Keycap bases (digits, `#`, `*`) are ASCII, read before this.
                guard properties.isEmoji, scalar.value >= 0x80 else { return .separator }
                // A skin tone belongs to the emoji before it: 👍🏽 is found as 👍.
                return properties.isEmojiModifier ? .ignorable : .emoji
            }
        }

        /// Han, Hiragana and Katakana, written without spaces between words.
        private static func isUnigramScript(_ value: UInt32) -> Bool {
            switch value {
            case 0x3005...0x3007, 0x3040...0x30FF, 0x31F0...0x31FF, 0x3400...0x4DBF,
                 0x4E00...0x9FFF, 0xF900...0xFAFF, 0xFF66...0xFF9F, 0x20000...0x3FFFF:
                return true
            default:
                return false
            }
        }
    }
}
