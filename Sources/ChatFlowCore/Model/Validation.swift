/// The input limits of SPEC §3, checked once where a command enters the domain.
///
/// Each check returns the value to store (trimmed where the rule says so) and throws
/// `.invalid` with a message that names the field, the rule and what was received.
/// Lengths count `Character`s (what a person sees as one letter), not bytes.
public enum Validation {
    public static let contentLimit = 1...4000
    public static let chatNameLimit = 1...100
    public static let chatDescriptionMaxLength = 1000

    /// A message's text, trimmed of surrounding whitespace and newlines: 1–4000 characters.
    public static func content(_ text: String) throws(ChatFlowError) -> String {
        let trimmed = trimmingWhitespace(text)
        let count = trimmed.count
        guard contentLimit.contains(count) else {
            throw .invalid("content must be 1–4000 characters after trimming (got \(count))")
        }
        try requireVisible(trimmed, field: "content", allowingLineBreaks: true)
        try requireBoundedCharacters(trimmed, field: "content")
        return trimmed
    }

    /// A chat's name, trimmed: 1–100 characters.
    public static func chatName(_ text: String) throws(ChatFlowError) -> String {
        let trimmed = trimmingWhitespace(text)
        let count = trimmed.count
        guard chatNameLimit.contains(count) else {
            throw .invalid("name must be 1–100 characters after trimming (got \(count))")
        }
        try requireVisible(trimmed, field: "name", allowingLineBreaks: false)
        try requireNoHiddenFormatting(trimmed, field: "name")
        try requireBoundedCharacters(trimmed, field: "name")
        return trimmed
    }

    /// A chat's description, trimmed: at most 1000 characters, and may be empty.
    public static func chatDescription(_ text: String) throws(ChatFlowError) -> String {
        let trimmed = trimmingWhitespace(text)
        let count = trimmed.count
        guard count <= chatDescriptionMaxLength else {
            throw .invalid("description must be at most 1000 characters after trimming (got \(count))")
        }
        try requireNoControls(trimmed, field: "description", allowingLineBreaks: true)
        try requireNoHiddenFormatting(trimmed, field: "description")
        try requireBoundedCharacters(trimmed, field: "description")
        return trimmed
    }

    /// A reaction: exactly one grapheme that displays as an emoji, in its fully-qualified
    /// form (UTS #51).
    ///
    /// Accepts single emoji (👍), emoji with a variation selector (❤️), skin tones (👍🏽),
    /// flags (🇫🇷, 🏴󠁧󠁢󠁳󠁣󠁴󠁿), keycaps (1️⃣) and ZWJ sequences (👨‍👩‍👧). Rejects letters, and digits,
    /// `#` and `*` outside a keycap (they carry the Emoji property but are text), and graphemes
    /// padded with anything that is not part of an emoji sequence, such as combining accents.
    ///
    /// Forms that look the same are one reaction: a variation selector U+FE0F after an emoji
    /// that shows as one anyway is dropped (`👍` + U+FE0F is `👍`), and one is added where the
    /// fully-qualified form has it (`❤` is `❤️`, `1` + U+20E3 is `1️⃣`, `❤` + ZWJ + `🔥` is
    /// `❤️‍🔥`). Keyboards differ in which they send (many send the heart without its
    /// selector, which UTS #51 calls unqualified); counted apart, one heart would show twice.
    public static func emoji(_ text: String) throws(ChatFlowError) -> String {
        guard text.count == 1, let character = text.first else {
            throw .invalid("emoji must be exactly one emoji, such as 👍 (got \(text.count) characters)")
        }
        guard let canonical = fullyQualifiedEmoji(character) else {
            throw .invalid("emoji must be exactly one emoji, such as 👍 (got \"\(character)\", which is not an emoji)")
        }
        return canonical
    }

    /// The reaction an event's emoji counts as: its fully-qualified form. Events logged
    /// before reactions were kept that way may hold another form of the same emoji, which
    /// must count as the same reaction, and be removed by it. Text that is not one emoji
    /// (nothing the commands would log) is its own reaction.
    public static func reaction(_ stored: String) -> String {
        guard stored.count == 1, let character = stored.first else { return stored }
        return fullyQualifiedEmoji(character) ?? stored
    }

    // MARK: - Helpers

    /// Longest sequence accepted, not counting variation selectors (so that the
    /// fully-qualified form of one accepted is accepted too); the longest standard emoji
    /// (kiss with two skin tones) has 10.
    static let maxEmojiScalars = 16

    /// Whether `character` is an emoji sequence as Unicode defines them (UTS #51): elements
    /// joined by zero-width joiners, each a flag, a keycap, a tag sequence, or one emoji with
    /// at most one variation selector or skin tone. Grapheme rules alone let through
    /// sequences that show as something else or as nothing more than their first emoji
    /// (`1` + U+FE0F, a joiner at the end, two skin tones, a lone regional indicator),
    /// and each would be a reaction of its own beside the one it looks like.
    /// Returns its fully-qualified form, or nil when it is not one.
    static func fullyQualifiedEmoji(_ character: Character) -> String? {
        let scalars = Array(character.unicodeScalars)
        guard !scalars.isEmpty, scalars.count(where: { $0 != variationSelector16 }) <= maxEmojiScalars else { return nil }
        let elements = scalars.split(separator: zeroWidthJoiner, omittingEmptySubsequences: false)
        var qualified = String.UnicodeScalarView()
        for (index, element) in elements.enumerated() {
            guard let emoji = qualifiedElement(element) else { return nil }
            if index > 0 { qualified.append(zeroWidthJoiner) }
            qualified.append(contentsOf: emoji)
        }
        return String(qualified)
    }

    private static let zeroWidthJoiner: Unicode.Scalar = "\u{200D}"
    private static let variationSelector16: Unicode.Scalar = "\u{FE0F}"
    private static let combiningKeycap: Unicode.Scalar = "\u{20E3}"
    private static let blackFlag: Unicode.Scalar = "\u{1F3F4}"
    private static let cancelTag: Unicode.Scalar = "\u{E007F}"

    /// One element of a ZWJ sequence in its fully-qualified form; nil when it is not one.
    private static func qualifiedElement(_ element: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar]? {
        guard let base = element.first else { return nil }  // a joiner at an end, or two together
        let rest = Array(element.dropFirst())
        if isRegionalIndicator(base) {
            // A flag is two regional indicators naming a region that has one: any other pair
            // (🇺🇺) shows as two letters in boxes.
            guard rest.count == 1, isRegionalIndicator(rest[0]) else { return nil }
            let region = String(String.UnicodeScalarView([base, rest[0]].map { Unicode.Scalar($0.value - 0x1F1E6 + 0x41)! }))
            return flagRegions.contains(region) ? Array(element) : nil
        }
        if "0123456789#*".unicodeScalars.contains(base) {
            // Digits, # and * are emoji only as keycaps.
            guard rest == [combiningKeycap] || rest == [variationSelector16, combiningKeycap] else { return nil }
            return [base, variationSelector16, combiningKeycap]
        }
        guard base.properties.isEmoji else { return nil }
        if rest.contains(where: { (0xE0020...0xE007F).contains($0.value) }) {
            // Subdivision flags: the black flag, tag letters, then the cancel tag; only those
            // with a flag of their own (others show as the plain black flag).
            guard base == blackFlag, rest.count >= 2, rest.last == cancelTag,
                  rest.dropLast().allSatisfy({ (0xE0020...0xE007E).contains($0.value) }) else { return nil }
            let subdivision = String(String.UnicodeScalarView(rest.dropLast().map { Unicode.Scalar($0.value - 0xE0000)! }))
            return flagSubdivisions.contains(subdivision) ? Array(element) : nil
        }
        // The selector where the base would show as text without it (❤, ©, ☝), and only there.
        let selected = base.properties.isEmojiPresentation ? [base] : [base, variationSelector16]
        switch rest.count {
        case 0:
            return selected
        case 1 where rest[0] == variationSelector16:
            return selected
        case 1 where rest[0].properties.isEmojiModifier && base.properties.isEmojiModifierBase:
            return Array(element)
        default:
            return nil
        }
    }

    /// The regions with a flag emoji (Unicode 16's RGI flag sequences, ISO 3166-1 codes
    /// and a few more such as EU and UN).
    private static let flagRegions = Set("""
        AC AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO \
        BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CP CQ CR CU CV CW CX CY CZ DE \
        DG DJ DK DM DO DZ EA EC EE EG EH ER ES ET EU FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL \
        GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU IC ID IE IL IM IN IO IQ IR IS IT JE JM JO \
        JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH \
        MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA \
        PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL \
        SM SN SO SR SS ST SV SX SY SZ TA TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM \
        UN US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW
        """.split(separator: " ").map(String.init))
    /// The subdivisions with a flag emoji: England, Scotland and Wales.
    private static let flagSubdivisions: Set<String> = ["gbeng", "gbsct", "gbwls"]

    private static func isRegionalIndicator(_ scalar: Unicode.Scalar) -> Bool {
        (0x1F1E6...0x1F1FF).contains(scalar.value)
    }

    /// Text people will see: no control characters (a NUL, an escape; where
    /// `allowingLineBreaks`, the whitespace ones such as tabs, line breaks and form feeds are
    /// fine, and elsewhere line and paragraph separators are refused too), and something
    /// visible, not only formatting characters such as zero-width spaces or direction marks,
    /// which trimming leaves in place.
    static func requireVisible(_ text: String, field: String, allowingLineBreaks: Bool) throws(ChatFlowError) {
        try requireNoControls(text, field: field, allowingLineBreaks: allowingLineBreaks)
        guard text.unicodeScalars.contains(where: isVisible) else {
            throw .invalid("\(field) must have something visible, not only invisible or formatting characters")
        }
    }

    /// Whether a scalar shows anything by itself. Not: white space, formatting characters,
    /// marks with nothing to combine with, code points Unicode says to ignore when they
    /// cannot be shown (the Hangul fillers, variation selectors, tags, the combining
    /// grapheme joiner), noncharacters, and the blank braille pattern, which renders as a
    /// space. Code points unassigned in this runtime's Unicode data count as visible: they
    /// may be emoji newer than it.
    private static func isVisible(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        switch properties.generalCategory {
        case .format, .nonspacingMark, .enclosingMark, .control, .spaceSeparator:
            return false
        default:
            return !properties.isWhitespace && !properties.isDefaultIgnorableCodePoint
                && !properties.isNoncharacterCodePoint && scalar != "\u{2800}"
        }
    }

    /// `requireVisible`'s check for control characters alone (for text that may be empty).
    public static func requireNoControls(_ text: String, field: String, allowingLineBreaks: Bool) throws(ChatFlowError) {
        let refused = text.unicodeScalars.first { scalar in
            switch scalar.properties.generalCategory {
            case .control: !(allowingLineBreaks && scalar.properties.isWhitespace)
            case .lineSeparator, .paragraphSeparator: !allowingLineBreaks
            default: false
            }
        }
        if let refused {
            throw .invalid("\(field) must not hold control characters (got U+\(String(refused.value, radix: 16, uppercase: true)))")
        }
    }

    /// A chat's name and description are shown to everyone who browses the directory:
    /// they may not hold characters that change how the text around them is ordered
    /// (direction embeddings, overrides and isolates: "\u{202E}gnp.exe" shows as
    /// "exe.png") or that show nothing at all (a zero-width space makes "gen\u{200B}eral"
    /// another chat that looks like "general"): the code points Unicode says to ignore when
    /// they cannot be shown, and the interlinear annotation marks. What writing needs
    /// stays: the joiners of letters and emoji (U+200C, U+200D), the marks of right-to-left
    /// text (U+200E, U+200F, U+061C), variation selectors (emoji, Han and Mongolian forms)
    /// and tags (subdivision flags).
    static func requireNoHiddenFormatting(_ text: String, field: String) throws(ChatFlowError) {
        guard !text.utf8.allSatisfy({ $0 < 0x80 }) else { return }
        let hasRightToLeft = text.unicodeScalars.contains(where: isRightToLeft)
        var previous: Unicode.Scalar?
        for scalar in text.unicodeScalars {
            defer { previous = scalar }
            let refused = switch scalar.value {
            // Joiners join letters of scripts that join, and emoji; after ASCII (or first)
            // they join nothing and only make "ad\u{200C}min" another name than "admin".
            case 0x200C, 0x200D: previous.map(\.isASCII) ?? true
            // Direction marks order text that has right-to-left letters in it.
            case 0x200E, 0x200F, 0x061C: !hasRightToLeft
            // The Mongolian vowel separator is spelling, after a Mongolian letter.
            case 0x180E: !(previous.map { (0x1820...0x18AF).contains($0.value) } ?? false)
            case 0x180B...0x180D, 0x180F, 0xFE00...0xFE0F, 0xE0100...0xE01EF, 0xE0020...0xE007F: false
            case 0xFFF9...0xFFFB: true
            default: scalar.properties.isDefaultIgnorableCodePoint
            }
            if refused {
                throw hiddenFormatting(field, scalar)
            }
        }
        // A variation selector picks a form of the character it follows, once: after any
        // other it shows nothing ("gen\u{FE0F}eral"), and a run of them can carry hidden text.
        // An emoji sequence may hold one per emoji in it (🏃‍♂️).
        for character in text where character.unicodeScalars.contains(where: isVariationSelector) && fullyQualifiedEmoji(character) == nil {
            let scalars = Array(character.unicodeScalars)
            let selectors = scalars.indices.filter { isVariationSelector(scalars[$0]) }
            guard selectors == [1], mayTakeVariation(scalars[0], selector: scalars[1]) else {
                let first = scalars[selectors[0]]
                throw hiddenFormatting(field, first, " where it selects no form")
            }
        }
        // Tags spell a subdivision's flag after 🏴; anywhere else they are hidden text.
        let isTag: (Unicode.Scalar) -> Bool = { (0xE0020...0xE007F).contains($0.value) }
        if let hidden = text.first(where: { $0.unicodeScalars.contains(where: isTag) && fullyQualifiedEmoji($0) == nil }),
           let tag = hidden.unicodeScalars.first(where: isTag) {
            throw hiddenFormatting(field, tag, " outside a flag")
        }
    }

    private static func hiddenFormatting(_ field: String, _ scalar: Unicode.Scalar, _ context: String = "") -> ChatFlowError {
        .invalid("\(field) must not hold invisible or direction-changing formatting characters (got U+\(String(scalar.value, radix: 16, uppercase: true))\(context))")
    }

    /// Letters of the right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko and the
    /// others of their blocks, their presentation forms, and the historic ones past U+10800).
    private static func isRightToLeft(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0590...0x08FF, 0xFB1D...0xFDFF, 0xFE70...0xFEFF, 0x10800...0x10FFF, 0x1E800...0x1EFFF: true
        default: false
        }
    }

    private static func isVariationSelector(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x180B...0x180D, 0x180F, 0xFE00...0xFE0F, 0xE0100...0xE01EF: true
        default: false
        }
    }

    /// Whether `base` has forms `selector` can pick: emoji or text presentation of an emoji,
    /// an ideographic variant of a Han character, a Mongolian letter's form, or a
    /// standardized variant of a symbol or letter outside ASCII.
    private static func mayTakeVariation(_ base: Unicode.Scalar, selector: Unicode.Scalar) -> Bool {
        switch selector.value {
        case 0xFE0E, 0xFE0F: base.properties.isEmoji
        case 0xE0100...0xE01EF: base.properties.isIdeographic
        case 0x180B...0x180D, 0x180F: (0x1800...0x18AF).contains(base.value)
        default: !base.isASCII
        }
    }

    /// Most code points one character of text may hold. The longest emoji sequences hold
    /// about a dozen, and letters with their marks in any script fewer; text counted in
    /// characters could otherwise carry thousands of marks stacked on one letter, drawn far
    /// above and below its line wherever it is shown (a public chat's name in everyone's
    /// directory, say), and as many bytes as a much longer text.
    public static let maxScalarsPerCharacter = 32

    static func requireBoundedCharacters(_ text: String, field: String) throws(ChatFlowError) {
        // No ASCII character holds more than two (CR LF); most posts are ASCII.
        guard text.unicodeScalars.count > maxScalarsPerCharacter, !text.utf8.allSatisfy({ $0 < 0x80 }) else { return }
        if let heavy = text.first(where: { $0.unicodeScalars.count > maxScalarsPerCharacter }) {
            throw .invalid("\(field) has a character of \(heavy.unicodeScalars.count) code points; at most \(maxScalarsPerCharacter) may make one (marks stacked on a letter)")
        }
    }

    /// Drops leading and trailing characters whose scalars are all White_Space
    /// (spaces, tabs, newlines, CRLF, NBSP, …) without Foundation.
    static func trimmingWhitespace(_ text: String) -> String {
        guard let start = text.firstIndex(where: { !$0.isWhitespace }),
              let last = text.lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(text[start...last])
    }
}
