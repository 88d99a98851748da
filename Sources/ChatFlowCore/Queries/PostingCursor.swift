import ChatFlowStorage

/// A newest-first scan over keys laid out as `prefix ‖ message(16)`, one iterator per prefix
/// (the postings of one term, of every term a search prefix expands to, or a user's own
/// messages), merged: `head` is the newest message id any of them has not yet passed.
///
/// Every iterator move (a step or a seek) takes one from the `budget` the caller passes, a
/// search's scan budget. A class, so that a join can move the cursors it holds in place.
final class PostingCursor {
    private let iterators: [KeyValueIterator]
    private let prefixes: [[UInt8]]
    /// Each iterator's current message id; nil once it has run out.
    private var heads: [ULID?]
    /// The newest of `heads`; nil once every iterator has run out.
    private(set) var head: ULID?

    /// Steps each iterator tries before it seeks, between 1 and `maxSteps`. A step costs far
    /// less than a seek (which descends every level of the LSM tree again), so when the target
    /// is usually a few postings away (two common terms) stepping wins, and when it is usually
    /// far (a common term against a rare one) the steps are wasted: double the allowance when
    /// stepping reached the target, halve it when a seek was needed.
    private var stepAllowance: [Int]
    private static let maxSteps = 8

    /// A cursor on the newest key of each prefix with a message id in `[lower, upper)`.
    init(_ database: Database, _ family: ColumnFamily, prefixes: [[UInt8]], lower: ULID, upper: ULID, budget: inout Int) throws {
        self.prefixes = prefixes
        iterators = prefixes.map { database.makeIterator(over: family, lower: $0 + lower.bytes, upper: $0 + upper.bytes) }
        stepAllowance = Array(repeating: 2, count: prefixes.count)
        heads = []
        heads.reserveCapacity(iterators.count)
        for iterator in iterators {
            iterator.seekToLast()
            budget -= 1
            heads.append(try Self.read(iterator))
        }
        head = Self.newest(heads)
    }

    /// Moves past `head`: each iterator on it steps back once.
    func advance(budget: inout Int) throws {
        guard let current = head else { return }
        for index in iterators.indices where heads[index] == current {
            iterators[index].previous()
            budget -= 1
            heads[index] = try Self.read(iterators[index])
        }
        head = Self.newest(heads)
    }

    /// Moves to the newest id at or before `target`: each iterator ahead of it steps back up
    /// to its allowance, then seeks if still ahead.
    func seek(atMost target: ULID, budget: inout Int) throws {
        for index in iterators.indices {
            guard let current = heads[index], current > target else { continue }
            let iterator = iterators[index]
            var steps = 0
            while let current = heads[index], current > target, steps < stepAllowance[index] {
                iterator.previous()
                steps += 1
                budget -= 1
                heads[index] = try Self.read(iterator)
            }
            if let current = heads[index], current > target {
                stepAllowance[index] = Swift.max(1, stepAllowance[index] / 2)
                var key = prefixes[index]
                target.append(to: &key)
                iterator.seekForPrevious(key)
                budget -= 1
                heads[index] = try Self.read(iterator)
            } else {
                stepAllowance[index] = Swift.min(Self.maxSteps, stepAllowance[index] * 2)
            }
        }
        head = Self.newest(heads)
    }

    private static func newest(_ heads: [ULID?]) -> ULID? {
        var newest: ULID?
        for case let head? in heads where newest.map({ head > $0 }) ?? true {
            newest = head
        }
        return newest
    }

    private static func read(_ iterator: KeyValueIterator) throws -> ULID? {
        guard iterator.isValid else { try iterator.checkError(); return nil }
        // The message id is the key's last 16 bytes.
        return iterator.withKey { key in key.count >= 16 ? ULID(bytes: key[(key.count - 16)...]) : nil }
    }
}
