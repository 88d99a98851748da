/// Parses dates (`2026-01-31`, midnight UTC) and RFC 3339 times
/// (`2026-01-31T10:00:00Z`, `2026-01-31T10:00:00.250+01:00`) into Unix milliseconds,
/// without Foundation.
///
/// A time with sub-millisecond digits is rounded up to the next millisecond, so that a
/// stored millisecond time compared with `<` and `>=` against the result gives the same
/// answer as against the exact instant. Times before 1970 are refused, since message times
/// are unsigned. A leap second (`23:59:60Z`, or the same instant at an offset) is the
/// first second of the next day, as Unix time counts it.
public enum RFC3339 {
    public struct Invalid: Error, Equatable {
        public var reason: String
    }

    static let expectedForm = "use YYYY-MM-DD or an RFC 3339 time such as 2026-01-31T10:00:00Z"

    public static func milliseconds(_ text: some StringProtocol) throws(Invalid) -> UInt64 {
        var reader = Reader(bytes: Array(text.utf8))
        let year = try reader.number(digits: 4)
        try reader.expect(UInt8(ascii: "-"))
        let month = try reader.number(digits: 2)
        try reader.expect(UInt8(ascii: "-"))
        let day = try reader.number(digits: 2)
        guard (1...12).contains(month) else {
            throw Invalid(reason: "month must be 01 to 12")
        }
        let monthLength = daysIn(month: month, year: year)
        guard (1...monthLength).contains(day) else {
            throw Invalid(reason: "\(monthNames[month - 1]) \(year) has \(monthLength) days")
        }
        var seconds = daysFromCivil(year: year, month: month, day: day) * 86_400
        var millis: Int64 = 0
        var leapSecond = false

        if !reader.isAtEnd {
            // RFC 3339 §5.6 lets a space stand for the T, as many tools write it.
            guard reader.take(UInt8(ascii: "T")) || reader.take(UInt8(ascii: "t")) || reader.take(UInt8(ascii: " ")) else {
                throw Invalid(reason: expectedForm)
            }
            let hour = try reader.number(digits: 2)
            try reader.expect(UInt8(ascii: ":"))
            let minute = try reader.number(digits: 2)
            try reader.expect(UInt8(ascii: ":"))
            let second = try reader.number(digits: 2)
            guard hour <= 23 else { throw Invalid(reason: "hour must be 00 to 23") }
            guard minute <= 59 else { throw Invalid(reason: "minute must be 00 to 59") }
            guard second <= 60 else { throw Invalid(reason: "second must be 00 to 59 (60 for a leap second)") }
            leapSecond = second == 60
            seconds += Int64(hour * 3600 + minute * 60 + min(second, 59))

            if reader.take(UInt8(ascii: ".")) {
                var digits = 0
                var roundUp = false
                while let digit = reader.digit() {
                    if digits < 3 {
                        millis = millis * 10 + Int64(digit)
                    } else if digit != 0 {
                        roundUp = true
                    }
                    digits += 1
                }
                guard digits > 0 else { throw Invalid(reason: expectedForm) }
                if digits < 3 {
                    for _ in digits..<3 { millis *= 10 }
                }
                if roundUp { millis += 1 }
            }

            if reader.take(UInt8(ascii: "Z")) || reader.take(UInt8(ascii: "z")) {
                // UTC
            } else if let sign = reader.sign() {
                let offsetHour = try reader.number(digits: 2)
                try reader.expect(UInt8(ascii: ":"))
                let offsetMinute = try reader.number(digits: 2)
                guard offsetHour <= 23, offsetMinute <= 59 else {
                    throw Invalid(reason: "time zone offset must be between -23:59 and +23:59")
                }
                seconds -= sign * Int64(offsetHour * 3600 + offsetMinute * 60)
            } else {
                throw Invalid(reason: "a time needs a time zone, Z or an offset like +01:00")
            }
        }
        guard reader.isAtEnd else { throw Invalid(reason: expectedForm) }
        if leapSecond {
            // Only ever inserted after 23:59:59 UTC.
            guard (seconds % 86_400 + 86_400) % 86_400 == 86_399 else {
                throw Invalid(reason: "second 60 is a leap second, only after 23:59:59 UTC")
            }
            seconds += 1
        }

        let total = seconds * 1000 + millis
        guard total >= 0 else {
            throw Invalid(reason: "times before 1970-01-01T00:00:00Z are not supported")
        }
        return UInt64(total)
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's
    /// `days_from_civil`).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = Int64(month > 2 ? month - 3 : month + 9)
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2:
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            return leap ? 29 : 28
        case 4, 6, 9, 11:
            return 30
        default:
            return 31
        }
    }

    private static let monthNames = [
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ]

    private struct Reader {
        var bytes: [UInt8]
        var position = 0

        var isAtEnd: Bool { position == bytes.count }

        mutating func take(_ byte: UInt8) -> Bool {
            guard position < bytes.count, bytes[position] == byte else { return false }
            position += 1
            return true
        }

        mutating func expect(_ byte: UInt8) throws(Invalid) {
            guard take(byte) else { throw Invalid(reason: RFC3339.expectedForm) }
        }

        mutating func digit() -> Int? {
            guard position < bytes.count, (0x30...0x39).contains(bytes[position]) else { return nil }
            defer { position += 1 }
            return Int(bytes[position] - 0x30)
        }

        mutating func number(digits count: Int) throws(Invalid) -> Int {
            var value = 0
            for _ in 0..<count {
                guard let digit = digit() else { throw Invalid(reason: RFC3339.expectedForm) }
                value = value * 10 + digit
            }
            return value
        }

        mutating func sign() -> Int64? {
            if take(UInt8(ascii: "+")) { return 1 }
            if take(UInt8(ascii: "-")) { return -1 }
            return nil
        }
    }
}

extension RFC3339 {
    /// Formats Unix milliseconds as `2026-01-31T10:00:00.250Z`.
    public static func format(milliseconds: UInt64) -> String {
        let days = Int64(milliseconds / 86_400_000)
        let rest = Int(milliseconds % 86_400_000)
        let (year, month, day) = civil(fromDays: days)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(rest / 3_600_000, 2)):\(pad(rest / 60_000 % 60, 2)):\(pad(rest / 1000 % 60, 2)).\(pad(rest % 1000, 3))Z"
    }

    /// The inverse of `daysFromCivil` (Howard Hinnant's algorithm).
    static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (Int(m <= 2 ? y + 1 : y), Int(m), Int(d))
    }
}
