/// A ULID: 48 bits of Unix time in milliseconds followed by 80 bits of randomness.
///
/// Key form: 16 bytes, big-endian, so that byte order equals time order.
/// Text form: 26 characters of Crockford base32 (the first carries only 3 bits), which
/// sorts the same way as the bytes.
public struct ULID: Hashable, Comparable, Sendable {
    /// Upper 64 bits: time(48) ‖ random high(16).
    public let high: UInt64
    /// Lower 64 bits of the random part.
    public let low: UInt64

    public static let byteCount = 16
    public static let textCount = 26
    public static let maxTimestamp: UInt64 = (1 << 48) - 1

    /// The smallest possible id; every real id compares greater.
    public static let zero = ULID(high: 0, low: 0)
    public static let max = ULID(high: .max, low: .max)

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// - Parameters:
    ///   - timestamp: milliseconds since the Unix epoch; must fit in 48 bits.
    ///   - randomHigh: top 16 bits of the random part.
    ///   - randomLow: bottom 64 bits of the random part.
    public init(timestamp: UInt64, randomHigh: UInt16, randomLow: UInt64) {
        precondition(timestamp <= ULID.maxTimestamp, "ULID timestamp exceeds 48 bits")
        self.high = (timestamp << 16) | UInt64(randomHigh)
        self.low = randomLow
    }

    /// Milliseconds since the Unix epoch.
    public var timestamp: UInt64 { high >> 16 }

    public static func < (lhs: ULID, rhs: ULID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    /// The next id in order (the random part plus one), or nil at `ULID.max`.
    public var successor: ULID? {
        if low != .max { return ULID(high: high, low: low + 1) }
        if high != .max { return ULID(high: high + 1, low: 0) }
        return nil
    }

    /// The previous id in order, or nil at `ULID.zero`.
    public var predecessor: ULID? {
        if low != 0 { return ULID(high: high, low: low - 1) }
        if high != 0 { return ULID(high: high - 1, low: .max) }
        return nil
    }

    /// The smallest id with the given timestamp: useful as a lower bound for "from time T".
    public static func first(atMillisecond ms: UInt64) -> ULID {
        ULID(timestamp: Swift.min(ms, maxTimestamp), randomHigh: 0, randomLow: 0)
    }
}

// MARK: - Bytes

extension ULID {
    /// The 16-byte big-endian key form.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            out[i] = UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64(i)))
            out[8 + i] = UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64(i)))
        }
        return out
    }

    /// Appends the 16-byte key form to `buffer` without an intermediate array.
    public func append(to buffer: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) {
            buffer.append(UInt8(truncatingIfNeeded: high >> UInt64(shift)))
        }
        for shift in stride(from: 56, through: 0, by: -8) {
            buffer.append(UInt8(truncatingIfNeeded: low >> UInt64(shift)))
        }
    }

    /// Reads the 16-byte key form; nil unless there are exactly 16 bytes.
    @inlinable
    public init?<C: Collection>(bytes: C) where C.Element == UInt8, C.Index == Int {
        guard bytes.count == 16 else { return nil }
        var h: UInt64 = 0
        var l: UInt64 = 0
        var i = bytes.startIndex
        for _ in 0..<8 { h = (h << 8) | UInt64(bytes[i]); i += 1 }
        for _ in 0..<8 { l = (l << 8) | UInt64(bytes[i]); i += 1 }
        self.init(high: h, low: l)
    }
}

// MARK: - Text

extension ULID: CustomStringConvertible, LosslessStringConvertible {
    static let alphabet: [UInt8] = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// Maps an ASCII byte to its 5-bit value; 0xFF marks a byte that is not Crockford base32.
    /// Lower case is accepted, as are the Crockford aliases I/L → 1 and O → 0.
    static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, char) in alphabet.enumerated() {
            table[Int(char)] = UInt8(value)
            if char >= UInt8(ascii: "A") && char <= UInt8(ascii: "Z") {
                table[Int(char + 32)] = UInt8(value)
            }
        }
        for alias in "iIlL".utf8 { table[Int(alias)] = 1 }
        for alias in "oO".utf8 { table[Int(alias)] = 0 }
        return table
    }()

    /// The 26-character Crockford base32 text form.
    public var description: String {
        // 130 bits of output for 128 bits of input: the first character holds the top 3 bits.
        var chars = [UInt8](repeating: 0, count: 26)
        for i in 0..<26 {
            let bitFromRight = 5 * (25 - i)  // position of this character's lowest bit
            chars[i] = ULID.alphabet[Int(fiveBits(atBit: bitFromRight))]
        }
        return String(decoding: chars, as: UTF8.self)
    }

    private func fiveBits(atBit shift: Int) -> UInt64 {
        // Bits [shift, shift+5) of the 128-bit value high ‖ low.
        if shift >= 64 { return (high >> UInt64(shift - 64)) & 0x1F }
        if shift + 5 <= 64 { return (low >> UInt64(shift)) & 0x1F }
        let fromLow = low >> UInt64(shift)
        let fromHigh = high << UInt64(64 - shift)
        return (fromLow | fromHigh) & 0x1F
    }

    public init?(_ description: String) {
        guard let parsed = try? ULID.parse(description) else { return nil }
        self = parsed
    }

    /// Parses the text form, saying what is wrong when it cannot.
    public static func parse(_ text: some StringProtocol) throws(ULIDParseError) -> ULID {
        let utf8 = Array(text.utf8)
        guard utf8.count == 26, utf8.allSatisfy({ $0 < 0x80 }) else {
            // Told in characters, as the client wrote the id, not in UTF-8 bytes.
            let characters = Array(text)
            guard characters.count == 26 else { throw .wrongLength(characters.count) }
            let position = characters.firstIndex { $0.asciiValue.map { decodeTable[Int($0)] == 0xFF } ?? true } ?? 0
            throw .invalidCharacter(characters[position], position: position)
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in utf8.enumerated() {
            let value = decodeTable[Int(byte)]
            guard value != 0xFF else { throw .invalidCharacter(Character(UnicodeScalar(byte)), position: index) }
            if index == 0 && value > 7 { throw .overflow }
            // Shift the 128-bit accumulator left by 5 and add the new digit.
            high = (high << 5) | (low >> 59)
            low = (low << 5) | UInt64(value)
        }
        return ULID(high: high, low: low)
    }
}

/// Why a string is not a ULID.
public enum ULIDParseError: Error, Equatable, CustomStringConvertible, Sendable {
    case wrongLength(Int)
    case invalidCharacter(Character, position: Int)
    case overflow

    public var description: String {
        switch self {
        case .wrongLength(let n): "an id has 26 characters, this one has \(n)"
        case .invalidCharacter(let c, let p): "'\(Self.shown(c))' at position \(p + 1) is not a Crockford base32 character"
        case .overflow: "the id is larger than 128 bits (its first character must be 0–7)"
        }
    }

    /// A character as an error quotes it: its first code point alone when it has more (a
    /// character may hold any number of combining marks).
    private static func shown(_ character: Character) -> String {
        character.unicodeScalars.count > 1 ? String(character.unicodeScalars.first!) + "…" : String(character)
    }
}
