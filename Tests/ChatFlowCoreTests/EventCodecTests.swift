import ChatFlowCore
import ChatFlowStorage
import Testing

private let chat = ChatID(ULID(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210))
private let message = MessageID(ULID(high: 0x0011_2233_4455_6677, low: 0x8899_AABB_CCDD_EEFF))
private let alice = UserID(unchecked: "alice")
private let bob = UserID(unchecked: "bob")
private let carol = UserID(unchecked: "carol")
private let dave = UserID(unchecked: "dave")

/// Each kind's golden envelope and its exact encoding, written out by hand from the layout
/// in `EventCodec`'s documentation. If one of these fails, old logs can no longer be read.
private typealias Golden = EventCodecTests.Golden

private let goldens: [Golden] = [
    Golden(
        envelope: EventEnvelope(actor: alice, event: .chatCreated(.init(
            name: "General", description: "Talk about anything ☕", isPrivate: true))),
        hex: """
            01 01 05 61 6c 69 63 65
            07 47 65 6e 65 72 61 6c
            17 54 61 6c 6b 20 61 62 6f 75 74 20 61 6e 79 74 68 69 6e 67 20 e2 98 95
            01
            """),
    Golden(
        envelope: EventEnvelope(actor: alice, event: .chatUpdated(.init(
            chat: chat, name: "Random", description: nil, isPrivate: false))),
        hex: """
            01 02 05 61 6c 69 63 65
            01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10
            01 06 52 61 6e 64 6f 6d
            00
            01 00
            """),
    Golden(
        envelope: EventEnvelope(actor: alice, event: .memberJoined(.init(chat: chat, user: bob, role: .member))),
        hex: """
            01 03 05 61 6c 69 63 65
            01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10
            03 62 6f 62
            02
            """),
    Golden(
        envelope: EventEnvelope(actor: bob, event: .memberLeft(.init(chat: chat, user: bob))),
        hex: """
            01 04 03 62 6f 62
            01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10
            03 62 6f 62
            """),
    Golden(
        envelope: EventEnvelope(actor: bob, event: .messagePosted(.init(
            chat: chat, content: "Héllo, wörld! 👋", type: .file, clientMessageID: "c-1"))),
        hex: """
            01 05 03 62 6f 62
            01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10
            14 48 c3 a9 6c 6c 6f 2c 20 77 c3 b6 72 6c 64 21 20 f0 9f 91 8b
            03
            01 03 63 2d 31
            """),
    Golden(
        // 200 bytes of content: the length takes a two-byte varint (0xC8 0x01).
        envelope: EventEnvelope(actor: bob, event: .messageEdited(.init(
            chat: chat, message: message, content: String(repeating: "ab", count: 100)))),
        hex: """
            01 06 03 62 6f 62
            01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10
            00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff
            c8 01
            """ + String(repeating: " 61 62", count: 100)),
    Golden(
        envelope: EventEnvelope(actor: carol, event: .messageDeleted(.init(chat: chat, message: message))),
        hex: """
            01 07 05 63 61 72 6f 6c
            01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10
            00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff
            """),
    Golden(
        envelope: EventEnvelope(actor: carol, event: .reactionAdded(.init(chat: chat, message: message, emoji: "👍"))),
        hex: """
            01 08 05 63 61 72 6f 6c
            01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10
            00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff
            04 f0 9f 91 8d
            """),
    Golden(
        envelope: EventEnvelope(actor: carol, event: .reactionRemoved(.init(chat: chat, message: message, emoji: "❤️"))),
        hex: """
            01 09 05 63 61 72 6f 6c
            01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10
            00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff
            06 e2 9d a4 ef b8 8f
            """),
    Golden(
        envelope: EventEnvelope(actor: dave, event: .readMarkerMoved(.init(chat: chat, message: message))),
        hex: """
            01 0a 04 64 61 76 65
            01 23 45 67 89 ab cd ef fe dc ba 98 76 54 32 10
            00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff
            """),
]

/// Envelopes that exercise every field's edge: optionals present and absent, every enum
/// value, empty and multi-byte strings, and lengths that need multi-byte varints.
private let roundTripEnvelopes: [EventEnvelope] = {
    var all = goldens.map(\.envelope)
    let longContent = String(repeating: "👨‍👩‍👧", count: 4000)  // 72 000 bytes: a three-byte varint
    all.append(EventEnvelope(actor: alice, event: .chatCreated(.init(name: "", description: "", isPrivate: false))))
    all.append(EventEnvelope(actor: UserID(unchecked: String(repeating: "z", count: 64)),
                             event: .chatCreated(.init(name: "日本語のチャット", description: "line 1\nline 2\t\u{0}", isPrivate: true))))
    for name in [nil, "", "Renamed ✨"] as [String?] {
        for description in [nil, "", "new description"] as [String?] {
            for isPrivate in [nil, false, true] as [Bool?] {
                all.append(EventEnvelope(actor: alice, event: .chatUpdated(.init(
                    chat: chat, name: name, description: description, isPrivate: isPrivate))))
            }
        }
    }
    for role in MemberRole.allCases {
        all.append(EventEnvelope(actor: bob, event: .memberJoined(.init(chat: chat, user: carol, role: role))))
    }
    all.append(EventEnvelope(actor: alice, event: .memberLeft(.init(chat: chat, user: carol))))
    for type in MessageType.allCases {
        for clientMessageID in [nil, "", "client-🔑-1"] as [String?] {
            all.append(EventEnvelope(actor: bob, event: .messagePosted(.init(
                chat: chat, content: "x", type: type, clientMessageID: clientMessageID))))
        }
    }
    all.append(EventEnvelope(actor: bob, event: .messagePosted(.init(chat: chat, content: longContent, type: .text))))
    all.append(EventEnvelope(actor: bob, event: .messageEdited(.init(chat: chat, message: message, content: "ça va? 🇫🇷"))))
    all.append(EventEnvelope(actor: bob, event: .messageEdited(.init(chat: chat, message: message, content: longContent))))
    all.append(EventEnvelope(actor: bob, event: .reactionAdded(.init(
        chat: ChatID(.zero), message: MessageID(.max), emoji: "👨‍👩‍👧"))))
    all.append(EventEnvelope(actor: bob, event: .reactionRemoved(.init(
        chat: ChatID(.max), message: MessageID(.zero), emoji: "👍🏽"))))
    all.append(EventEnvelope(actor: bob, event: .readMarkerMoved(.init(chat: ChatID(.max), message: MessageID(.max)))))
    return all
}()

@Suite("EventCodec")
struct EventCodecTests {
    struct Golden: Sendable, CustomTestStringConvertible {
        let envelope: EventEnvelope
        let hex: String
        var bytes: [UInt8] { bytesFromHex(hex) }
        var testDescription: String { envelope.event.kind.wireName }
    }

    // MARK: - Golden bytes

    @Test("encodes each kind to its pinned bytes", arguments: goldens)
    func goldenEncoding(golden: Golden) {
        #expect(hexString(EventCodec.encode(golden.envelope)) == hexString(golden.bytes))
    }

    @Test("decodes each kind's pinned bytes", arguments: goldens)
    func goldenDecoding(golden: Golden) throws {
        #expect(try EventCodec.decode(golden.bytes) == golden.envelope)
    }

    @Test func goldensCoverEveryKind() {
        #expect(goldens.map(\.envelope.event.kind) == EventKind.allCases)
    }

    // MARK: - Round trips

    @Test func roundTripsEveryEnvelope() throws {
        #expect(roundTripEnvelopes.count > 40)
        for envelope in roundTripEnvelopes {
            let bytes = EventCodec.encode(envelope)
            #expect(try EventCodec.decode(bytes) == envelope)
        }
    }

    @Test func emptyAndAbsentOptionalsStayDistinct() throws {
        let absent = EventEnvelope(actor: bob, event: .messagePosted(.init(chat: chat, content: "x", type: .text, clientMessageID: nil)))
        let empty = EventEnvelope(actor: bob, event: .messagePosted(.init(chat: chat, content: "x", type: .text, clientMessageID: "")))
        #expect(EventCodec.encode(absent) != EventCodec.encode(empty))
        #expect(try EventCodec.decode(EventCodec.encode(empty)) == empty)
        #expect(try EventCodec.decode(EventCodec.encode(absent)) == absent)
    }

    @Test func encodeIntoAppendsAfterExistingBytes() {
        let envelope = goldens[4].envelope
        var buffer: [UInt8] = [0xAA, 0xBB]
        EventCodec.encode(envelope, into: &buffer)
        #expect(buffer == [0xAA, 0xBB] + goldens[4].bytes)
        EventCodec.encode(goldens[0].envelope, into: &buffer)
        #expect(buffer == [0xAA, 0xBB] + goldens[4].bytes + goldens[0].bytes)
    }

    @Test func decodesFromSlicesAndRawBuffers() throws {
        for golden in goldens {
            let padded: [UInt8] = [0xFF, 0xFE, 0xFD] + golden.bytes + [0xEE]
            let slice = padded[3..<(padded.count - 1)]
            #expect(try EventCodec.decode(slice) == golden.envelope)
            let fromRaw = try golden.bytes.withUnsafeBytes { raw in
                Result { () throws(EventCodecError) in try EventCodec.decode(raw) }
            }.get()
            #expect(fromRaw == golden.envelope)
        }
    }

    // MARK: - Rejections

    @Test func rejectsUnknownKinds() {
        for code: UInt8 in [0, 11, 42, 255] {
            #expect(throws: EventCodecError.unknownKind(code)) {
                try EventCodec.decode([0x01, code, 0x01, 0x61])
            }
        }
        #expect(EventCodecError.unknownKind(42).description == "unknown event kind 42")
    }

    @Test func rejectsUnknownVersions() {
        for version: UInt8 in [0, 2, 9, 255] {
            var bytes = goldens[0].bytes
            bytes[0] = version
            #expect(throws: EventCodecError.unsupportedVersion(version)) { try EventCodec.decode(bytes) }
        }
        #expect(EventCodecError.unsupportedVersion(9).description
            == "unsupported event format version 9 (this build reads version 1)")
    }

    @Test("rejects every proper prefix as truncated", arguments: goldens)
    func rejectsEveryTruncation(golden: Golden) {
        let bytes = golden.bytes
        for length in 0..<bytes.count {
            do {
                let decoded = try EventCodec.decode(bytes[0..<length])
                Issue.record("a \(length)-byte prefix of \(bytes.count) decoded as \(decoded)")
            } catch {
                switch error {
                case .truncated, .lengthBeyondEnd: break
                default: Issue.record("a \(length)-byte prefix gave \(error), expected a truncation")
                }
            }
        }
    }

    @Test func rejectsEveryTruncationOfEveryRoundTripEnvelope() {
        for envelope in roundTripEnvelopes {
            let bytes = EventCodec.encode(envelope)
            for length in 0..<bytes.count {
                if let decoded = try? EventCodec.decode(bytes[0..<length]) {
                    Issue.record("a \(length)-byte prefix of \(bytes.count) decoded as \(decoded)")
                }
            }
        }
    }

    @Test func namesEachFailure() throws {
        let messageDeleted = goldens[6].bytes  // header 8 ‖ chat 16 ‖ message 16
        let cases: [([UInt8], EventCodecError)] = [
            ([], .truncated(field: "format version", needed: 1, offset: 0, remaining: 0)),
            ([0x01], .truncated(field: "event kind", needed: 1, offset: 1, remaining: 0)),
            ([0x01, 0x07], .truncated(field: "actor length", needed: 1, offset: 2, remaining: 0)),
            (Array(messageDeleted[0..<27]), .truncated(field: "message id", needed: 16, offset: 24, remaining: 3)),
            ([0x01, 0x01, 0x05, 0x61], .lengthBeyondEnd(field: "actor", length: 5, offset: 3, remaining: 1)),
            ([0x01, 0x01] + [UInt8](repeating: 0xFF, count: 9) + [0x01],
             .lengthBeyondEnd(field: "actor", length: .max, offset: 12, remaining: 0)),
            ([0x01, 0x01] + [UInt8](repeating: 0x80, count: 10) + [0x00], .varintTooLong(field: "actor length", offset: 2)),
            ([0x01, 0x01] + [UInt8](repeating: 0xFF, count: 9) + [0x02], .varintOverflow(field: "actor length", offset: 2)),
            ([0x01, 0x01, 0x81, 0x00, 0x61], .varintNotMinimal(field: "actor length", offset: 2)),
            ([0x01, 0x01, 0x02, 0xC3, 0x28], .invalidUTF8(field: "actor", offset: 3)),
            ([0x01, 0x01, 0x02, 0xC0, 0xAF], .invalidUTF8(field: "actor", offset: 3)),  // overlong '/'
            ([0x01, 0x01, 0x03, 0xED, 0xA0, 0x80], .invalidUTF8(field: "actor", offset: 3)),  // a surrogate
            (replacing(goldens[0].bytes, at: goldens[0].bytes.count - 1, with: 0x02),
             .invalidBool(field: "isPrivate", byte: 2, offset: goldens[0].bytes.count - 1)),
            (replacing(goldens[1].bytes, at: 24, with: 0x02), .invalidPresenceMarker(field: "name", byte: 2, offset: 24)),
            (replacing(goldens[1].bytes, at: 32, with: 0xFF), .invalidPresenceMarker(field: "description", byte: 0xFF, offset: 32)),
            (replacing(goldens[1].bytes, at: 34, with: 0x05), .invalidBool(field: "isPrivate", byte: 5, offset: 34)),
            (replacing(goldens[2].bytes, at: 28, with: 0x07), .unknownCode(field: "member role", code: 7, offset: 28)),
            (replacing(goldens[4].bytes, at: 43, with: 0x00), .unknownCode(field: "message type", code: 0, offset: 43)),
            (replacing(goldens[4].bytes, at: 44, with: 0x02), .invalidPresenceMarker(field: "client message id", byte: 2, offset: 44)),
            (messageDeleted + [0x00], .trailingBytes(kind: .messageDeleted, count: 1, offset: 40)),
        ]
        var distinctErrors: [EventCodecError] = []
        for (bytes, expected) in cases {
            #expect(throws: expected, "\(hexString(bytes))") { try EventCodec.decode(bytes) }
            if !distinctErrors.contains(expected) { distinctErrors.append(expected) }
        }
        // Different failures never read the same.
        #expect(Set(distinctErrors.map(\.description)).count == distinctErrors.count)
        #expect(EventCodecError.truncated(field: "message id", needed: 16, offset: 20, remaining: 3).description
            == "truncated event: needed 16 bytes for message id at offset 20, 3 left")
        #expect(EventCodecError.invalidBool(field: "isPrivate", byte: 2, offset: 9).description
            == "isPrivate at offset 9 is 0x02, expected 0x00 or 0x01")
    }

    /// Whatever the input, decoding returns or throws; and when it returns, the input was
    /// exactly the canonical encoding of what it returned.
    @Test func survivesRandomGarbage() {
        var rng = SplitMix64(seed: 0xC0DEC)
        var rejected = 0
        let total = 5000
        for _ in 0..<total {
            var bytes = (0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Mostly start with a valid header so that the garbage reaches the fields.
            if !bytes.isEmpty && rng.next() % 4 != 0 { bytes[0] = 0x01 }
            if bytes.count > 1 && rng.next() % 4 != 0 { bytes[1] = UInt8.random(in: 1...10, using: &rng) }
            if bytes.count > 2 && rng.next() % 2 == 0 { bytes[2] = UInt8.random(in: 0...5, using: &rng) }
            if expectCanonicalOrRejected(bytes) { rejected += 1 }
        }
        #expect(rejected > total * 9 / 10)
    }

    @Test func survivesMutatedEncodings() {
        var rng = SplitMix64(seed: 42)
        var rejected = 0
        var accepted = 0
        for golden in goldens {
            for _ in 0..<500 {
                var bytes = golden.bytes
                let position = Int.random(in: 0..<bytes.count, using: &rng)
                switch rng.next() % 3 {
                case 0: bytes[position] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: position)
                default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: position)
                }
                if expectCanonicalOrRejected(bytes) { rejected += 1 } else { accepted += 1 }
            }
        }
        // Changing a byte inside a string or id often still yields a valid event.
        #expect(rejected > 0)
        #expect(accepted > 0)
    }

    // MARK: - Event properties

    @Test func kindsHaveStableCodesAndWireNames() {
        let expected: [(UInt8, String)] = [
            (1, "chat.created"), (2, "chat.updated"), (3, "member.joined"), (4, "member.left"),
            (5, "message.created"), (6, "message.edited"), (7, "message.deleted"),
            (8, "reaction.added"), (9, "reaction.removed"), (10, "read.moved"),
        ]
        #expect(EventKind.allCases.map { ($0.rawValue) } == expected.map(\.0))
        #expect(EventKind.allCases.map(\.wireName) == expected.map(\.1))
        #expect(EventKind.messagePosted.description == "message.created")
    }

    @Test func enumCodesAreStable() {
        #expect(MessageType.allCases.map(\.code) == [1, 2, 3])
        #expect(MessageType.allCases.map(\.rawValue) == ["text", "image", "file"])
        #expect(MemberRole.allCases.map(\.code) == [1, 2])
        #expect(MemberRole.allCases.map(\.rawValue) == ["owner", "member"])
        for type in MessageType.allCases { #expect(MessageType(code: type.code) == type) }
        for role in MemberRole.allCases { #expect(MemberRole(code: role.code) == role) }
        #expect(MessageType(code: 0) == nil && MessageType(code: 4) == nil)
        #expect(MemberRole(code: 0) == nil && MemberRole(code: 3) == nil)
    }

    @Test func eventsKnowTheirKindAndChat() {
        for golden in goldens {
            let event = golden.envelope.event
            #expect(golden.bytes[1] == event.kind.rawValue)
            if event.kind == .chatCreated {
                #expect(event.chat == nil)
            } else {
                #expect(event.chat == chat)
            }
        }
    }

    @Test func loggedEventTimeIsItsIDTimestamp() {
        let id = ULID(timestamp: 1_767_225_600_123, randomHigh: 7, randomLow: 9)
        let logged = LoggedEvent(id: id, envelope: goldens[4].envelope)
        #expect(logged.timeMilliseconds == 1_767_225_600_123)
        #expect(logged.actor == bob)
        #expect(logged.envelope == goldens[4].envelope)
    }
}

// MARK: - Helpers

/// Decodes `bytes`; true when rejected. When accepted, expects the bytes to be exactly the
/// encoding of the result, which holds only if the decoder accepts canonical input alone.
private func expectCanonicalOrRejected(_ bytes: [UInt8]) -> Bool {
    do {
        let envelope = try EventCodec.decode(bytes)
        #expect(EventCodec.encode(envelope) == bytes, "accepted non-canonical \(hexString(bytes))")
        return false
    } catch {
        #expect(!error.description.isEmpty)
        return true
    }
}

private func replacing(_ bytes: [UInt8], at index: Int, with byte: UInt8) -> [UInt8] {
    var copy = bytes
    copy[index] = byte
    return copy
}

/// Parses hex digits, ignoring whitespace; records an issue on anything else.
private func bytesFromHex(_ text: String) -> [UInt8] {
    let digits = text.filter { !$0.isWhitespace }
    var bytes: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2, limitedBy: digits.endIndex) ?? digits.endIndex
        guard let byte = UInt8(digits[index..<next], radix: 16), digits.distance(from: index, to: next) == 2 else {
            Issue.record("bad hex literal near \(digits[index..<next])")
            return []
        }
        bytes.append(byte)
        index = next
    }
    return bytes
}

private func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: " ")
}
