import ChatFlowStorage

/// What an apply step does to one row, as `ProjectionBatch` holds it until the step ends.
enum RowChange {
    case put([UInt8])
    case delete
    /// Ids to add to the stored value (see `IDSetMerge`), concatenated.
    case merge([UInt8])

    /// Whether the row exists once the change is made.
    var isLive: Bool {
        if case .delete = self { return false }
        return true
    }

    /// The row's value once the change is made over `stored` (what RocksDB holds).
    func value(over stored: @autoclosure () throws -> [UInt8]?) throws -> [UInt8]? {
        switch self {
        case .put(let value): return value
        case .delete: return nil
        case .merge(let operands):
            guard let merged = IDSetMerge.merge(base: try stored(), operands: operands) else {
                throw StorageError.malformed("a row of 16-byte ids with ids to add of \(operands.count) bytes")
            }
            return merged
        }
    }

    /// Adds ids to the change: a put or delete becomes the put of the merged value, a merge
    /// takes the ids after its own. Returns whether the row existed before (`isLive`).
    @discardableResult
    mutating func add(_ operand: [UInt8]) throws -> Bool {
        let wasLive = isLive
        switch self {
        case .put(let value): self = .put(try RowChange.merge(operand).value(over: value)!)
        case .delete: self = .put(try RowChange.merge(operand).value(over: nil)!)
        case .merge(var operands):
            self = .delete  // the array is uniquely referenced while it grows
            operands.append(contentsOf: operand)
            self = .merge(operands)
        }
        return wasLive
    }
}
