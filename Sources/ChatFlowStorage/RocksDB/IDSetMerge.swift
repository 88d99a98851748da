import CRocksDB
import Foundation

/// The database's merge operator: a value is a 16-byte header followed by a set of 16-byte
/// ids in ascending byte order, and a merge operand is ids to add to it.
///
/// A row that grows by one id at a time (a search term's open run of postings) is then
/// written as its new id alone, instead of rewriting the whole row for every id: the log
/// and the memtable carry 16 bytes instead of the row, and the writer need not read the
/// row first. RocksDB applies the operands when the row is read, flushed or compacted.
///
/// Adding is a set union, so the result does not depend on how RocksDB groups operands.
/// The header is carried as it is; a missing value counts as a zero header and no ids.
public enum IDSetMerge {
    /// Stored in the database's options; a build without this operator cannot read rows
    /// that still hold operands.
    public static let name = "chatflow.id-set.v1"
    static let width = 16

    /// `base` (or, when absent, a zero header and no ids) with every id of `operands` added
    /// once, in order. Nil when `base` or an operand is not made of 16-byte words.
    public static func merge(base: UnsafeRawBufferPointer?, operands: some Sequence<UnsafeRawBufferPointer>) -> [UInt8]? {
        var value: [UInt8]
        if let base {
            guard base.count >= width, base.count % width == 0 else { return nil }
            value = Array(base)
        } else {
            value = [UInt8](repeating: 0, count: width)
        }
        for operand in operands {
            guard operand.count % width == 0 else { return nil }
            for offset in stride(from: 0, to: operand.count, by: width) {
                add(UnsafeRawBufferPointer(rebasing: operand[offset..<(offset + width)]), to: &value)
            }
        }
        return value
    }

    /// `merge` over arrays.
    public static func merge(base: [UInt8]?, operands: [UInt8]) -> [UInt8]? {
        operands.withUnsafeBytes { operand in
            guard let base else { return merge(base: nil, operands: CollectionOfOne(operand)) }
            return base.withUnsafeBytes { merge(base: $0, operands: CollectionOfOne(operand)) }
        }
    }

    /// Adds one id: appended when above the last (nearly always), else inserted in place
    /// unless present.
    private static func add(_ id: UnsafeRawBufferPointer, to value: inout [UInt8]) {
        let count = (value.count - width) / width
        func compare(at index: Int) -> Int32 {
            value.withUnsafeBytes { memcmp($0.baseAddress! + width * (index + 1), id.baseAddress!, width) }
        }
        if count == 0 || compare(at: count - 1) < 0 {
            value.append(contentsOf: id)
            return
        }
        var (low, high) = (0, count)
        while low < high {
            let middle = (low + high) / 2
            if compare(at: middle) < 0 { low = middle + 1 } else { high = middle }
        }
        if low < count && compare(at: low) == 0 { return }
        value.insert(contentsOf: id, at: width * (low + 1))
    }

    /// RocksDB asks for the name as a C string that outlives the operator.
    nonisolated(unsafe) private static let namePointer: UnsafeMutablePointer<CChar> = strdup(name)

    /// A new operator for one options object (which takes ownership of it).
    static func makeOperator() -> OpaquePointer {
        rocksdb_mergeoperator_create(
            nil,
            { _ in },
            { _, _, _, existing, existingLength, operands, operandLengths, count, success, newLength in
                let base = existing.map { UnsafeRawBufferPointer(start: $0, count: existingLength) }
                let parts = (0..<Int(count)).map { UnsafeRawBufferPointer(start: operands![$0], count: operandLengths![$0]) }
                return IDSetMerge.handOver(IDSetMerge.merge(base: base, operands: parts), success, newLength)
            },
            { _, _, _, operands, operandLengths, count, success, newLength in
                // Operands combine by concatenation: adding them one after the other is
                // the same as adding each.
                var joined: [UInt8] = []
                for index in 0..<Int(count) {
                    let part = UnsafeRawBufferPointer(start: operands![index], count: operandLengths![index])
                    guard part.count % IDSetMerge.width == 0 else { return IDSetMerge.handOver(nil, success, newLength) }
                    joined.append(contentsOf: part)
                }
                return IDSetMerge.handOver(joined, success, newLength)
            },
            { _, value, _ in free(UnsafeMutableRawPointer(mutating: value)) },
            { _ in UnsafePointer(IDSetMerge.namePointer) })
    }

    /// `bytes` in memory RocksDB frees through the operator's `delete_value` (a failure when nil).
    private static func handOver(_ bytes: [UInt8]?, _ success: UnsafeMutablePointer<UInt8>?, _ length: UnsafeMutablePointer<Int>?) -> UnsafeMutablePointer<CChar>? {
        guard let bytes else {
            success?.pointee = 0
            length?.pointee = 0
            return nil
        }
        let copy = malloc(Swift.max(bytes.count, 1))!
        bytes.withUnsafeBytes { if let source = $0.baseAddress { copy.copyMemory(from: source, byteCount: $0.count) } }
        success?.pointee = 1
        length?.pointee = bytes.count
        return copy.assumingMemoryBound(to: CChar.self)
    }
}
