import Testing
@testable import ChatFlowStorage

@Suite struct KeyTests {
    @Test func partsRoundTrip() {
        let id = ULID(timestamp: 1_700_000_000_000, randomHigh: 7, randomLow: 99)
        let bytes = KeyWriter.build {
            $0.byte(3); $0.uint64(42); $0.uint32(7); $0.ulid(id); $0.terminatedString("héllo")
        }
        let decoded = KeyReader.read(bytes) { reader in
            (reader.byte(), reader.uint64(), reader.uint32(), reader.ulid(), reader.terminatedString(), reader.isAtEnd)
        }
        #expect(decoded.0 == 3 && decoded.1 == 42 && decoded.2 == 7 && decoded.3 == id && decoded.4 == "héllo" && decoded.5)
    }

    @Test func byteOrderIsPartOrder() {
        func key(_ n: UInt64, _ s: String) -> [UInt8] { KeyWriter.build { $0.uint64(n); $0.terminatedString(s) } }
        #expect(key(1, "z").lexicographicallyPrecedes(key(256, "a")))
        #expect(key(5, "ab").lexicographicallyPrecedes(key(5, "abc")))
        #expect(key(5, "abc").lexicographicallyPrecedes(key(5, "abd")))
        let older = ULID(timestamp: 10, randomHigh: 0xFFFF, randomLow: .max)
        let newer = ULID(timestamp: 11, randomHigh: 0, randomLow: 0)
        #expect(older.bytes.lexicographicallyPrecedes(newer.bytes))
    }

    @Test func malformedKeysReadAsNil() {
        #expect(KeyReader.read([1, 2, 3]) { $0.uint64() } == nil)
        #expect(KeyReader.read([0x61, 0x62]) { $0.terminatedString() } == nil)  // no terminator
        #expect(KeyReader.read([0xFF, 0xFE, 0]) { $0.terminatedString() } == nil)  // not UTF-8
    }

    @Test func prefixSuccessorBoundsEveryExtension() {
        #expect(KeyWriter.prefixSuccessor([1, 2]) == [1, 3])
        #expect(KeyWriter.prefixSuccessor([1, 0xFF]) == [2])
        #expect(KeyWriter.prefixSuccessor([0xFF, 0xFF]) == nil)
    }
}
