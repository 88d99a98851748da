import ChatFlowStorage
import Synchronization
import Testing

@Suite("ULID")
struct ULIDTests {
    // MARK: - Bytes

    @Test func bytesAreBigEndianHighThenLow() {
        let id = ULID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210)
        #expect(id.bytes == [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF,
                             0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10])
        var buffer: [UInt8] = [0x99]
        id.append(to: &buffer)
        #expect(buffer == [0x99] + id.bytes)
    }

    @Test func timestampIsTheTop48Bits() {
        let id = ULID(timestamp: 0xABCD_EF01_2345, randomHigh: 0x6789, randomLow: 42)
        #expect(id.high == 0xABCD_EF01_2345_6789)
        #expect(id.low == 42)
        #expect(id.timestamp == 0xABCD_EF01_2345)
        #expect(id.bytes.prefix(6) == [0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45])
    }

    @Test func bytesRoundTrip() throws {
        var rng = SplitMix64(seed: 1)
        for _ in 0..<1000 {
            let id = ULID(high: rng.next(), low: rng.next())
            #expect(ULID(bytes: id.bytes) == id)
            let padded = [0xEE] + id.bytes + [0xFF]
            #expect(ULID(bytes: padded[1..<17]) == id)
        }
        #expect(ULID(bytes: [UInt8](repeating: 0, count: 15)) == nil)
        #expect(ULID(bytes: [UInt8](repeating: 0, count: 17)) == nil)
        #expect(ULID(bytes: [UInt8]()) == nil)
    }

    // MARK: - Text

    /// Expected strings computed independently (Python: Crockford base32 of the 128-bit
    /// integer, 26 digits, most significant first).
    @Test(arguments: [
        (ULID.zero, "00000000000000000000000000"),
        (ULID.max, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"),
        (ULID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210), "014D2PF2DBSQQZXQ5TK1V58CGG"),
        (ULID(high: 0x0011_2233_4455_6677, low: 0x8899_AABB_CCDD_EEFF), "0024H36H2NCSVRH6DAQF6DVVQZ"),
        (ULID(high: 0x0156_3E3A_B5D3_D676, low: 0x4C61_EFB9_9302_BD5B), "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        (ULID(timestamp: 1_469_918_176_385, randomHigh: 0, randomLow: 0), "01ARYZ6S410000000000000000"),
    ])
    func knownTextForms(id: ULID, text: String) throws {
        #expect(id.description == text)
        #expect(try ULID.parse(text) == id)
        #expect(ULID(text) == id)
    }

    @Test func textRoundTripsAndSortsLikeBytes() throws {
        var rng = SplitMix64(seed: 2)
        var ids: [ULID] = []
        for _ in 0..<2000 {
            // Mix fully random ids with near neighbours that differ only in low bits.
            let id = ULID(high: rng.next() >> (rng.next() % 64), low: rng.next())
            ids.append(id)
            ids.append(ULID(high: id.high, low: id.low ^ 1))
            ids.append(ULID(high: id.high ^ 1, low: id.low))
        }
        for id in ids {
            #expect(try ULID.parse(id.description) == id)
            #expect(id.description.utf8.count == 26)
        }
        let byValue = ids.sorted()
        let byText = ids.sorted { $0.description < $1.description }
        let byBytes = ids.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
        #expect(byText == byValue)
        #expect(byBytes == byValue)
        for (a, b) in zip(ids, ids.dropFirst()) {
            #expect((a < b) == (a.description < b.description))
        }
    }

    @Test func parseAcceptsLowerCaseAndCrockfordAliases() throws {
        let id = ULID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210)
        #expect(try ULID.parse(id.description.lowercased()) == id)
        let ones = try ULID.parse("01111111111111111111111111")
        #expect(try ULID.parse("0IiLl111111111111111111111") == ones)
        let zeros = try ULID.parse("70000000000000000000000000")
        #expect(try ULID.parse("7OoOoOoOoOoOoOoOoOoOoOoOoO") == zeros)
        #expect(try ULID.parse(Substring("01ARZ3NDEKTSV4RRFFQ69G5FAV")) == ULID(high: 0x0156_3E3A_B5D3_D676, low: 0x4C61_EFB9_9302_BD5B))
    }

    @Test func parseErrorsSayWhatIsWrong() {
        #expect(throws: ULIDParseError.wrongLength(25)) { try ULID.parse("0000000000000000000000000") }
        #expect(throws: ULIDParseError.wrongLength(27)) { try ULID.parse("000000000000000000000000000") }
        #expect(throws: ULIDParseError.wrongLength(0)) { try ULID.parse("") }
        // Counted and pointed at in characters, as the client wrote them, not in UTF-8 bytes.
        #expect(throws: ULIDParseError.invalidCharacter("é", position: 25)) { try ULID.parse("0000000000000000000000000é") }
        #expect(throws: ULIDParseError.wrongLength(25)) { try ULID.parse("000000000000000000000000👍") }
        #expect(throws: ULIDParseError.invalidCharacter("👍", position: 1)) { try ULID.parse("0👍0000000000000000000000U0") }
        #expect(throws: ULIDParseError.invalidCharacter("\r\n", position: 24)) { try ULID.parse("000000000000000000000000\r\n0") }
        #expect(throws: ULIDParseError.invalidCharacter("U", position: 3)) { try ULID.parse("000U0000000000000000000000") }
        #expect(throws: ULIDParseError.invalidCharacter("-", position: 25)) { try ULID.parse("0000000000000000000000000-") }
        #expect(throws: ULIDParseError.invalidCharacter(" ", position: 0)) { try ULID.parse(" 0000000000000000000000000") }
        #expect(throws: ULIDParseError.overflow) { try ULID.parse("8ZZZZZZZZZZZZZZZZZZZZZZZZZ") }
        #expect(throws: ULIDParseError.overflow) { try ULID.parse("Z0000000000000000000000000") }
        #expect(ULID("8ZZZZZZZZZZZZZZZZZZZZZZZZZ") == nil)
        #expect(ULIDParseError.wrongLength(3).description == "an id has 26 characters, this one has 3")
        // A character with thousands of marks is not quoted whole.
        let marked = try? ULID.parse(String(repeating: "0", count: 25) + "a" + String(repeating: "\u{301}", count: 30_000))
        #expect(marked == nil)
        #expect(ULIDParseError.invalidCharacter(Character("a" + String(repeating: "\u{301}", count: 30_000)), position: 25).description
            == "'a…' at position 26 is not a Crockford base32 character")
        #expect(ULIDParseError.invalidCharacter("U", position: 3).description
            == "'U' at position 4 is not a Crockford base32 character")
    }

    // MARK: - Order helpers

    @Test func successorCarriesAndStopsAtMax() {
        #expect(ULID(high: 5, low: 7).successor == ULID(high: 5, low: 8))
        #expect(ULID(high: 5, low: .max).successor == ULID(high: 6, low: 0))
        #expect(ULID(high: .max, low: .max - 1).successor == .max)
        #expect(ULID.max.successor == nil)
    }

    @Test func predecessorBorrowsAndStopsAtZero() {
        #expect(ULID(high: 5, low: 7).predecessor == ULID(high: 5, low: 6))
        #expect(ULID(high: 6, low: 0).predecessor == ULID(high: 5, low: .max))
        #expect(ULID.zero.predecessor == nil)
        #expect(ULID(high: 9, low: 0).predecessor?.successor == ULID(high: 9, low: 0))
    }

    @Test func firstAtMillisecondIsTheLowerBoundOfThatMillisecond() {
        let first = ULID.first(atMillisecond: 1_000)
        #expect(first.timestamp == 1_000)
        #expect(first < ULID(timestamp: 1_000, randomHigh: 0, randomLow: 1))
        #expect(ULID(timestamp: 999, randomHigh: .max, randomLow: .max) < first)
        #expect(ULID.first(atMillisecond: .max).timestamp == ULID.maxTimestamp)
    }
}

@Suite("ULIDGenerator")
struct ULIDGeneratorTests {
    @Test func sameMillisecondIncrementsTheRandomPart() {
        let randomCalls = Counter()
        var generator = ULIDGenerator(clock: { 1_000 }, random: {
            randomCalls.increment()
            return (0x1234, 0x5678)
        })
        var ids = [generator.next()]
        for _ in 0..<1000 { ids.append(generator.next()) }
        #expect(ids[0] == ULID(timestamp: 1_000, randomHigh: 0x1234, randomLow: 0x5678))
        for (previous, id) in zip(ids, ids.dropFirst()) {
            #expect(id == previous.successor)
            #expect(id.timestamp == 1_000)
        }
        #expect(randomCalls.value == 1)
    }

    @Test func clockGoingBackwardsNeverMakesAnIDGoDown() {
        let clock = ScriptedClock([1_000, 1_000, 999, 500, 1_000, 1_001, 3, 1_002])
        var generator = ULIDGenerator(clock: clock.next, random: { (7, 7) })
        let ids = (0..<8).map { _ in generator.next() }
        #expect(ids.map(\.timestamp) == [1_000, 1_000, 1_000, 1_000, 1_000, 1_001, 1_001, 1_002])
        for (previous, id) in zip(ids, ids.dropFirst()) {
            #expect(previous < id)
        }
        // A new millisecond starts from fresh random bits.
        #expect(ids[5] == ULID(timestamp: 1_001, randomHigh: 7, randomLow: 7))
    }

    @Test func exhaustedRandomPartCarriesIntoTheTimestamp() {
        let clock = ScriptedClock([5_000, 5_000, 5_000, 5_001, 5_002])
        var generator = ULIDGenerator(clock: clock.next, random: { (.max, .max) })
        let first = generator.next()
        #expect(first == ULID(timestamp: 5_000, randomHigh: .max, randomLow: .max))
        let second = generator.next()
        #expect(second == ULID(timestamp: 5_001, randomHigh: 0, randomLow: 0))
        #expect(first < second)
        let third = generator.next()
        #expect(third == ULID(timestamp: 5_001, randomHigh: 0, randomLow: 1))
        // The clock catches up with the carried timestamp: still increments.
        let fourth = generator.next()
        #expect(fourth == ULID(timestamp: 5_001, randomHigh: 0, randomLow: 2))
        // Once the clock passes it, fresh random bits again.
        let fifth = generator.next()
        #expect(fifth == ULID(timestamp: 5_002, randomHigh: .max, randomLow: .max))
    }

    @Test func resumeContinuesAfterTheLastLoggedID() {
        let logged = ULID(timestamp: 9_000, randomHigh: 1, randomLow: 2)
        var generator = ULIDGenerator(clock: { 8_000 }, random: { (0, 0) })
        generator.resume(after: logged)
        let next = generator.next()
        #expect(next == logged.successor)
        // Resuming after an older id does not move the generator back.
        generator.resume(after: ULID(timestamp: 1, randomHigh: 0, randomLow: 0))
        #expect(generator.next() == next.successor)
        generator.resume(after: nil)
        #expect(generator.next() > next)
    }

    @Test func wallClockIDsAreStrictlyIncreasingAndCurrent() {
        var generator = ULIDGenerator()
        let before = ULIDGenerator.wallClockMilliseconds()
        var previous = generator.next()
        for _ in 0..<10_000 {
            let id = generator.next()
            #expect(previous < id)
            previous = id
        }
        let after = ULIDGenerator.wallClockMilliseconds()
        #expect(before > 1_700_000_000_000)  // after 2023: the clock is in milliseconds
        #expect(previous.timestamp >= before && previous.timestamp <= after + 1)
    }

    @Test func systemRandomLeavesHeadroomForIncrements() {
        for _ in 0..<1000 {
            let (high, _) = ULIDGenerator.systemRandom()
            #expect(high & 0x8000 == 0)
        }
    }
}

// MARK: - Helpers

/// Returns the scripted times in turn, then repeats the last.
private final class ScriptedClock: Sendable {
    private let times: Mutex<[UInt64]>

    init(_ times: [UInt64]) {
        self.times = Mutex(times.reversed())
    }

    @Sendable func next() -> UInt64 {
        times.withLock { times in times.count > 1 ? times.removeLast() : times[0] }
    }
}

private final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
