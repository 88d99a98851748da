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
        return trimmed
    }

    /// A reaction: exactly one grapheme that displays as an emoji.
    ///
    /// Accepts single emoji (👍), emoji with a variation selector (❤️), skin tones (👍🏽),
    /// flags (🇫🇷, 🏴󠁧󠁢󠁳󠁣󠁴󠁿), keycaps (1️⃣) and ZWJ sequences (👨‍👩‍👧). Rejects letters and digits on
    /// their own (they carry the Emoji property but display as text), and graphemes padded
    /// with anything that is not part of an emoji sequence, such as combining accents.
    public static func emoji(_ text: String) throws(ChatFlowError) -> String {
        guard text.count == 1, let character = text.first else {
            throw .invalid("emoji must be exactly one emoji, such as 👍 (got \(text.count) characters)")
        }
        guard isEmoji(character) else {
            throw .invalid("emoji must be exactly one emoji, such as 👍 (got \"\(character)\", which is not an emoji)")
        }
        return text
    }

    // MARK: - Helpers

    /// Longest sequence accepted; the longest standard emoji (kiss with two skin tones) has 10.
    static let maxEmojiScalars = 16

    static func isEmoji(_ character: Character) -> Bool {
        let scalars = character.unicodeScalars
        guard let first = scalars.first, scalars.count <= maxEmojiScalars else { return false }
        guard first.properties.isEmoji else { return false }
        // Every scalar after the first must be part of an emoji sequence.
        for scalar in scalars.dropFirst() where !isEmojiSequencePart(scalar) {
            return false
        }
        if first.properties.isEmojiPresentation { return true }
        // A text-default base (❤, 1, ☝) is an emoji only when something asks for emoji
        // presentation: the variation selector U+FE0F, a keycap or a skin-tone modifier.
        return scalars.contains {
            $0 == variationSelector16 || $0 == combiningKeycap || $0.properties.isEmojiModifier
        }
    }

    private static let zeroWidthJoiner: Unicode.Scalar = "\u{200D}"
    private static let variationSelector16: Unicode.Scalar = "\u{FE0F}"
    private static let combiningKeycap: Unicode.Scalar = "\u{20E3}"

    private static func isEmojiSequencePart(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case zeroWidthJoiner.value, variationSelector16.value, combiningKeycap.value:
            true
        case 0xE0020...0xE007F:  // tag characters of subdivision flags
            true
        default:
            scalar.properties.isEmoji
        }
    }

    /// Text people will see: no control characters (a NUL, an escape; where
    /// `allowingLineBreaks`, the whitespace ones such as tabs, line breaks and form feeds are
    /// fine, and elsewhere line and paragraph separators are refused too), and something
    /// visible, not only formatting characters such as zero-width spaces or direction marks,
    /// which trimming leaves in place.
    static func requireVisible(_ text: String, field: String, allowingLineBreaks: Bool) throws(ChatFlowError) {
        try requireNoControls(text, field: field, allowingLineBreaks: allowingLineBreaks)
        guard text.unicodeScalars.contains(where: { !$0.properties.isWhitespace && $0.properties.generalCategory != .format }) else {
            throw .invalid("\(field) must have something visible, not only invisible or formatting characters")
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

    /// Drops leading and trailing characters whose scalars are all White_Space
    /// (spaces, tabs, newlines, CRLF, NBSP, …) without Foundation.
    static func trimmingWhitespace(_ text: String) -> String {
        guard let start = text.firstIndex(where: { !$0.isWhitespace }),
              let last = text.lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(text[start...last])
    }
}
