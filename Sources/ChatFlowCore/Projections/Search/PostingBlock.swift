import ChatFlowStorage
import Foundation

/// A run of one term's postings in one chat, stored as one row so that a search reads
/// dozens of postings per step instead of one.
///
/// Where runs end depends on the postings alone, never on the order they came in: a
/// posting whose id hashes to a boundary (1 in 64) ends its run, and the run is stored
/// under that id. Postings after the last boundary form the open run, stored under
/// `ULID.max`. Each run also carries the boundary before it (its floor), so a new posting
/// finds its run from the open one without a search. Tailing, rebuilding and retention
/// therefore all arrive at the same rows for the same postings.
struct PostingBlock: Equatable {
    /// The previous run's boundary; every id here is above it. Zero for the first run.
    var floor: ULID
    /// Message ids, ascending.
    var ids: [ULID]

    /// The key of the open run, after the last boundary.
    static let openKey = ULID.max

    /// Whether `id` ends a run: its bits, mixed with the data directory's salt, have the
    /// low six bits clear, so runs hold 64 postings on average whatever the ids look like
    /// (ids made in one millisecond differ only in their last bits). The salt keeps users
    /// from telling which of their messages end runs: one who could would delete exactly
    /// those, and one run of a term would grow without bound, each new posting rewriting it.
    static func isBoundary(_ id: ULID, salt: UInt64) -> Bool {
        mix(mix(id.high ^ salt) ^ id.low) & 63 == 0
    }

    /// SplitMix64's finalizer: every input bit reaches every output bit.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    init(floor: ULID = .zero, ids: [ULID] = []) {
        self.floor = floor
        self.ids = ids
    }

    init(decoding bytes: [UInt8]) throws {
        guard bytes.count >= 16, bytes.count % 16 == 0, let floor = ULID(bytes: bytes[0..<16]) else {
            throw StorageError.malformed("posting block of \(bytes.count) bytes")
        }
        self.floor = floor
        ids = Self.decodeIDs(bytes)
    }

    /// The ids of an encoded run, read as big-endian words (searches decode runs in bulk).
    static func decodeIDs(_ bytes: some ContiguousBytes) -> [ULID] {
        bytes.withUnsafeBytes { raw in
            let count = raw.count / 16 - 1
            return [ULID](unsafeUninitializedCapacity: Swift.max(count, 0)) { buffer, initialized in
                for index in 0..<Swift.max(count, 0) {
                    let offset = 16 * (index + 1)
                    buffer[index] = ULID(
                        high: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
                        low: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)))
                }
                initialized = Swift.max(count, 0)
            }
        }
    }

    /// `floor ‖ ids`, 16 big-endian bytes each (written as words: runs are rewritten often).
    /// This is `IDSetMerge`'s form (the floor its header), so the store can add ids to a run.
    func encoded() -> [UInt8] {
        let count = 16 * (ids.count + 1)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            func store(_ id: ULID, at offset: Int) {
                raw.storeBytes(of: id.high.bigEndian, toByteOffset: offset, as: UInt64.self)
                raw.storeBytes(of: id.low.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
            }
            store(floor, at: 0)
            for (index, id) in ids.enumerated() { store(id, at: 16 * (index + 1)) }
            initialized = count
        }
    }

    /// Appends `id` to an encoded run when it belongs at its end: above the run's last id
    /// (or its floor, when it has none). False, leaving `encoded` as it was, otherwise or
    /// when `encoded` is not a run.
    static func append(_ id: ULID, toEncoded encoded: inout [UInt8]) -> Bool {
        guard encoded.count >= 16, encoded.count % 16 == 0,
              let last = ULID(bytes: encoded[(encoded.count - 16)...]), last < id else { return false }
        id.append(to: &encoded)
        return true
    }

    /// The position of the first id at or above `id`.
    func index(of id: ULID) -> Int {
        Self.index(of: id, in: ids)
    }

    static func index(of id: ULID, in ids: [ULID]) -> Int {
        var (low, high) = (0, ids.count)
        while low < high {
            let middle = (low + high) / 2
            if ids[middle] < id { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Adds `id` in order; false when it is there already.
    mutating func insert(_ id: ULID) -> Bool {
        if let last = ids.last, last < id {
            ids.append(id)
            return true
        }
        let at = index(of: id)
        if at < ids.count && ids[at] == id { return false }
        ids.insert(id, at: at)
        return true
    }

    /// Takes `id` out; false when it was not there.
    mutating func remove(_ id: ULID) -> Bool {
        let at = index(of: id)
        guard at < ids.count && ids[at] == id else { return false }
        ids.remove(at: at)
        return true
    }

    /// Cut at `boundary`: the ids up to it (a run ending there) and the ids after it (a run
    /// whose floor it is).
    func split(at boundary: ULID) -> (upTo: PostingBlock, after: PostingBlock) {
        let at = index(of: boundary.successor ?? .max)
        return (PostingBlock(floor: floor, ids: Array(ids[..<at])), PostingBlock(floor: boundary, ids: Array(ids[at...])))
    }
}
