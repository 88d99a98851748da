/// Every key layout of the change log, with its column family. Nothing else builds these bytes.
public enum LogKeys {
    /// `eventid(16) → encoded event`
    public static let eventsFamily = "log.eventid_event"
    /// Two kinds of row, told apart by their first byte:
    /// - `0x01 ‖ scope ‖ 0x00 ‖ key ‖ 0x00 → expiresAt(8) ‖ count(4) ‖ eventid(16)×count`
    /// - `0x02 ‖ expiresAt(8) ‖ scope ‖ 0x00 ‖ key ‖ 0x00 → ∅` (the expiry index, swept in time order)
    public static let idempotencyFamily = "log.userkey_eventids"

    public static let families = [eventsFamily, idempotencyFamily]

    static let recordTag: UInt8 = 0x01
    static let expiryTag: UInt8 = 0x02
    static let fingerprintTag: UInt8 = 0x03

    public static func event(_ id: ULID) -> [UInt8] { id.bytes }

    /// `event(id)` in stack memory, for the append path, which writes one per event.
    static func withEventKey<T>(_ id: ULID, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        var key = (id.high.bigEndian, id.low.bigEndian)
        return try withUnsafeBytes(of: &key, body)
    }

    static func idempotencyRecord(_ key: IdempotencyKey) -> [UInt8] {
        KeyWriter.build { $0.byte(recordTag); $0.terminatedString(key.scope); $0.terminatedString(key.key) }
    }

    static func idempotencyExpiry(_ key: IdempotencyKey, expiresAt: UInt64) -> [UInt8] {
        KeyWriter.build {
            $0.byte(expiryTag)
            $0.uint64(expiresAt)
            $0.terminatedString(key.scope)
            $0.terminatedString(key.key)
        }
    }

    /// Decodes an expiry-index key back to the record it covers.
    static func decodeIdempotencyExpiry(_ bytes: [UInt8]) -> (expiresAt: UInt64, key: IdempotencyKey)? {
        KeyReader.read(bytes) { reader in
            guard reader.byte() == expiryTag, let expiresAt = reader.uint64(),
                  let scope = reader.terminatedString(), let key = reader.terminatedString(), reader.isAtEnd
            else { return nil }
            return (expiresAt, IdempotencyKey(scope: scope, key: key))
        }
    }

    static func encodeIdempotencyValue(expiresAt: UInt64, ids: [ULID]) -> [UInt8] {
        KeyWriter.build(capacity: 12 + 16 * ids.count) { writer in
            writer.uint64(expiresAt)
            writer.uint32(UInt32(ids.count))
            for id in ids { writer.ulid(id) }
        }
    }

    static func decodeIdempotencyValue(_ bytes: [UInt8]) -> (expiresAt: UInt64, ids: [ULID])? {
        KeyReader.read(bytes) { reader in
            guard let expiresAt = reader.uint64(), let count = reader.uint32(),
                  reader.remaining == Int(count) * 16 else { return nil }
            var ids: [ULID] = []
            ids.reserveCapacity(Int(count))
            for _ in 0..<count { ids.append(reader.ulid()!) }
            return (expiresAt, ids)
        }
    }

    /// The fingerprint of the request a key's record came with, in a row of its own beside
    /// the record rather than in it: a server of a version before fingerprints reads the
    /// record as it always did, and passes over this row.
    static func idempotencyFingerprint(_ key: IdempotencyKey) -> [UInt8] {
        KeyWriter.build { $0.byte(fingerprintTag); $0.terminatedString(key.scope); $0.terminatedString(key.key) }
    }

    static func encodeFingerprint(_ fingerprint: UInt64) -> [UInt8] {
        KeyWriter.build { $0.uint64(fingerprint) }
    }

    static func decodeFingerprint(_ bytes: [UInt8]) -> UInt64? {
        KeyReader.read(bytes) { reader in
            guard let fingerprint = reader.uint64(), reader.isAtEnd else { return nil }
            return fingerprint
        }
    }
}
