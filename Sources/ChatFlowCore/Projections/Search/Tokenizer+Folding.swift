// The standard library implements canonical decomposition, composition and full case
// folding, but exports them only as SPI (`_nfd`, `_nfc`, `_caseFolded`, available since
// macOS 13) for the toolchain's own libraries. Its public API has no normalization, and
// Foundation's folding would pull a large, slow dependency into the rebuild hot path.
@_spi(_Unicode) import Swift

extension Tokenizer {
    /// Folds case and accents of one word without splitting it.
    ///
    /// Unicode full case folding ("Straße" → "strasse", "ΑΘΗΝΑ" → "αθηνα"), then canonical
    /// decomposition with the diacritics removed ("Ñandú" → "nandu"), a few letters with
    /// built-in strokes mapped to their base ("Łódź" → "lodz"), digraph letters spelled out
    /// ("ǅep" → "dzep", as "džep" folds), full-width ASCII and the digits of any script
    /// (also superscript, subscript and circled: "H₂O" → "h2o") mapped to ASCII, half-width
    /// katakana to full-width ones, Roman numerals to their letters ("Ⅻ" → "xii"), and
    /// control and invisible characters dropped.
    /// The result is recomposed (NFC), so canonically equivalent inputs fold alike.
    ///
    /// Only marks from the diacritic blocks (Latin, Greek and Cyrillic accents, Hebrew
    /// points, Arabic harakat) are removed: the marks of Indic scripts and the kana voicing
    /// marks are part of the letter and change the word, as do the breve of Cyrillic й and
    /// ў and the diaeresis of ї (ё still folds to е, as Russian readers expect).
    ///
    /// ``terms(_:)`` applies this to every part it finds and then caps its length; this
    /// function does not.
    public static func fold(_ word: String) -> String {
        if word.utf8.allSatisfy({ $0 < 0x80 }) {
            return foldASCII(word)
        }
        var caseFolded = String.UnicodeScalarView()
        for scalar in word._nfd {
            let properties = scalar.properties
            if properties.generalCategory == .control || properties.isDefaultIgnorableCodePoint {
                continue
            }
            if let kana = Tokenizer.fullWidthKana(scalar.value) {
                caseFolded.append(Unicode.Scalar(kana)!)
            } else if let letters = Tokenizer.romanNumeralLetters(scalar.value) {
                caseFolded.append(contentsOf: letters.unicodeScalars)
            } else if case 0xFF01...0xFF5E = scalar.value, let ascii = Unicode.Scalar(scalar.value - 0xFEE0) {
                caseFolded.append(ascii.properties.changesWhenCaseFolded ? Unicode.Scalar(ascii.value | 0x20)! : ascii)
            } else if properties.numericType == .decimal || properties.numericType == .digit, let digit = properties.numericValue,
                      let ascii = Unicode.Scalar(0x30 + UInt32(digit)) {
                caseFolded.append(ascii)
            } else if properties.changesWhenCaseFolded {
                caseFolded.append(contentsOf: properties._caseFolded.unicodeScalars)
            } else {
                caseFolded.append(scalar)
            }
        }
        // Case folding can produce precomposed letters again (and an İ becomes i + U+0307),
        // so decompose once more before removing the marks.
        var stripped = String.UnicodeScalarView()
        for scalar in String(caseFolded)._nfd {
            if isDiacritic(scalar.value) {
                // Cyrillic й, ў and ї are letters of their own, not accented и, у and і.
                let keep = scalar.value == 0x0306 && (stripped.last == "\u{0438}" || stripped.last == "\u{0443}")
                    || scalar.value == 0x0308 && stripped.last == "\u{0456}"
                if !keep { continue }
            }
            switch scalar.value {
            case 0x0142: stripped.append("l")  // ł
            case 0x0111: stripped.append("d")  // đ
            case 0x00F8: stripped.append("o")  // ø
            case 0x0127: stripped.append("h")  // ħ
            case 0x0167: stripped.append("t")  // ŧ
            case 0x0131: stripped.append("i")  // dotless ı
            case 0x00E6: stripped.append(contentsOf: "ae".unicodeScalars)  // æ
            case 0x0153: stripped.append(contentsOf: "oe".unicodeScalars)  // œ
            // Digraphs of one code point, as the letters they stand for (case folding has
            // made ǅ and Ǆ into ǆ, which has no canonical decomposition; ž loses its caron).
            case 0x01C6, 0x01F3: stripped.append(contentsOf: "dz".unicodeScalars)  // ǆ, ǳ
            case 0x01C9: stripped.append(contentsOf: "lj".unicodeScalars)  // ǉ
            case 0x01CC: stripped.append(contentsOf: "nj".unicodeScalars)  // ǌ
            case 0x0133: stripped.append(contentsOf: "ij".unicodeScalars)  // ĳ
            default: stripped.append(scalar)
            }
        }
        var composed = String.UnicodeScalarView()
        composed.append(contentsOf: String(stripped)._nfc)
        return String(composed)
    }

    /// Combining marks that are accents rather than parts of letters: the combining
    /// diacritical blocks, Cyrillic titlo, Hebrew points and Arabic harakat.
    static func isDiacritic(_ value: UInt32) -> Bool {
        switch value {
        case 0x0300...0x036F, 0x0483...0x0489, 0x0591...0x05BD, 0x05BF, 0x05C1...0x05C2,
             0x05C4...0x05C5, 0x05C7, 0x0610...0x061A, 0x064B...0x065F, 0x0670,
             0x06D6...0x06DC, 0x06DF...0x06E4, 0x06E7...0x06E8, 0x06EA...0x06ED,
             0x1AB0...0x1AFF, 0x1DC0...0x1DFF, 0x20D0...0x20FF, 0xFE20...0xFE2F:
            return true
        default:
            return false
        }
    }

    private static func foldASCII(_ word: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(word.utf8.count)
        for byte in word.utf8 {
            switch byte {
            case 0x41...0x5A: bytes.append(byte | 0x20)
            case 0x00..<0x20, 0x7F: continue
            default: bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `term` cut to at most ``maxTermLength`` UTF-8 bytes, at a scalar boundary.
    static func truncated(_ term: String) -> String {
        guard term.utf8.count > maxTermLength else { return term }
        var length = 0
        var kept = String.UnicodeScalarView()
        for scalar in term.unicodeScalars {
            length += UTF8.width(scalar)
            if length > maxTermLength { break }
            kept.append(scalar)
        }
        return String(kept)
    }
}
