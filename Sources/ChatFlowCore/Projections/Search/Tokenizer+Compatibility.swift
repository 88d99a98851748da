extension Tokenizer {
    /// The full-width katakana a half-width one (U+FF66–U+FF9D) stands for, or the combining
    /// voicing mark for the half-width ﾞ and ﾟ (U+FF9E, U+FF9F): their compatibility
    /// forms. Half-width kana come from older Japanese systems (receipts, bank statements,
    /// mail from legacy clients), and a reader searches them with the kana they type.
    static func fullWidthKana(_ value: UInt32) -> UInt32? {
        guard (0xFF66...0xFF9F).contains(value) else { return nil }
        return UInt32(halfWidthKana[Int(value - 0xFF66)])
    }

    private static let halfWidthKana: [UInt16] = [
        0x30F2, 0x30A1, 0x30A3, 0x30A5, 0x30A7, 0x30A9, 0x30E3, 0x30E5, 0x30E7, 0x30C3,  // ｦ ｧ ｨ ｩ ｪ ｫ ｬ ｭ ｮ ｯ
        0x30FC, 0x30A2, 0x30A4, 0x30A6, 0x30A8, 0x30AA, 0x30AB, 0x30AD, 0x30AF, 0x30B1,  // ｰ ｱ ｲ ｳ ｴ ｵ ｶ ｷ ｸ ｹ
        0x30B3, 0x30B5, 0x30B7, 0x30B9, 0x30BB, 0x30BD, 0x30BF, 0x30C1, 0x30C4, 0x30C6,  // ｺ ｻ ｼ ｽ ｾ ｿ ﾀ ﾁ ﾂ ﾃ
        0x30C8, 0x30CA, 0x30CB, 0x30CC, 0x30CD, 0x30CE, 0x30CF, 0x30D2, 0x30D5, 0x30D8,  // ﾄ ﾅ ﾆ ﾇ ﾈ ﾉ ﾊ ﾋ ﾌ ﾍ
        0x30DB, 0x30DE, 0x30DF, 0x30E0, 0x30E1, 0x30E2, 0x30E4, 0x30E6, 0x30E8, 0x30E9,  // ﾎ ﾏ ﾐ ﾑ ﾒ ﾓ ﾔ ﾕ ﾖ ﾗ
        0x30EA, 0x30EB, 0x30EC, 0x30ED, 0x30EF, 0x30F3, 0x3099, 0x309A,  // ﾘ ﾙ ﾚ ﾛ ﾜ ﾝ ﾞ ﾟ
    ]

    /// The Latin letters, lowercase, that a Roman numeral of one code point (Ⅻ, ⅻ:
    /// U+2160–U+217F) stands for, as its compatibility form spells it: "Ⅻ" is searched as
    /// `xii`.
    static func romanNumeralLetters(_ value: UInt32) -> String? {
        guard (0x2160...0x217F).contains(value) else { return nil }
        return romanNumerals[Int(value - 0x2160) % 16]
    }

    private static let romanNumerals = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii", "l", "c", "d", "m"]
}
