import ChatFlowStorage

/// The rows of the projection generations family other than each projection's generation
/// (keyed by the projection's name, which never starts with 0x00). The family is copied
/// with the projections, into backups too, so what it holds travels with the data.
enum GenerationsKeys {
    /// `RetentionState`: horizon(16) ‖ logHorizon(16) ‖ removedThrough(16).
    static let retentionHorizon: [UInt8] = [0x00, 0x01]
    /// `RetentionState`: `‖ chat(16) → messagesBefore(8)`.
    static let retentionCounts: [UInt8] = [0x00, 0x02]
    /// `ProjectionStore.salt`: salt(8).
    static let salt: [UInt8] = [0x00, 0x03]
    /// `RestoreGaps`: `‖ after(16) → throughMilliseconds(8)`.
    static let restoreGaps: [UInt8] = [0x00, 0x04]

    static func restoreGap(after: ULID) -> [UInt8] {
        KeyWriter.build { $0.raw(restoreGaps); $0.ulid(after) }
    }

    /// The `after` of a `restoreGap` key; nil for any other row.
    static func decodeRestoreGap(_ key: [UInt8]) -> ULID? {
        guard key.count == restoreGaps.count + 16, key.starts(with: restoreGaps) else { return nil }
        return ULID(bytes: key[restoreGaps.count...])
    }
}
