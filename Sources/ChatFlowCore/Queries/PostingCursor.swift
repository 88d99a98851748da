import ChatFlowStorage

/// A newest-first scan over postings, one stream per prefix (the runs of one term, of every
/// term a search prefix expands to, or a user's own messages), merged: `head` is the newest
/// message id any of them has not yet passed.
///
/// A term's postings come in runs (`PostingBlock`, keys `prefix ‖ run end`): a stream reads
/// a run at a time and steps through it in memory. A user's messages are one row each
/// (`prefix ‖ message`): a stream steps the iterator. Every move (a step, a seek, a run
/// read) takes one from the `budget` the caller passes, a search's scan budget. A class, so
/// that a join can move the cursors it holds in place.
final class PostingCursor {
    private let streams: [any Stream]
    /// The only stream when there is one (a term's runs, the commonest case), moved directly:
    /// going through the list costs a join more than its comparisons do.
    private let only: RunStream?
    /// The newest of the streams' heads; nil once every stream has run out.
    private(set) var head: ULID?

    /// A cursor on the newest posting of each prefix with a message id in `[lower, upper)`;
    /// `runs` says whether the prefixes hold runs of postings or one row per posting.
    init(_ database: Database, _ family: ColumnFamily, prefixes: [[UInt8]], runs: Bool, lower: ULID, upper: ULID, budget: inout Int) throws {
        streams = try prefixes.map { prefix -> any Stream in
            if runs { return try RunStream(database, family, prefix: prefix, lower: lower, upper: upper, budget: &budget) }
            return try RowStream(database, family, prefix: prefix, lower: lower, upper: upper, budget: &budget)
        }
        only = streams.count == 1 ? streams[0] as? RunStream : nil
        head = Self.newest(streams)
    }

    /// Moves past `head`: each stream on it steps back once.
    func advance(budget: inout Int) throws {
        guard let current = head else { return }
        if let only {
            try only.previous(budget: &budget)
            head = only.head
            return
        }
        for stream in streams where stream.head == current {
            try stream.previous(budget: &budget)
        }
        head = Self.newest(streams)
    }

    /// Moves to the newest id at or before `target`.
    func seek(atMost target: ULID, budget: inout Int) throws {
        if let only {
            if let current = only.head, current > target { try only.seek(atMost: target, budget: &budget) }
            head = only.head
            return
        }
        for stream in streams {
            guard let current = stream.head, current > target else { continue }
            try stream.seek(atMost: target, budget: &budget)
        }
        head = Self.newest(streams)
    }

    private static func newest(_ streams: [any Stream]) -> ULID? {
        var newest: ULID?
        for stream in streams {
            if let head = stream.head, newest.map({ head > $0 }) ?? true { newest = head }
        }
        return newest
    }
}

extension PostingCursor {
    /// One prefix's postings, newest first.
    protocol Stream: AnyObject {
        /// The current message id; nil once the stream has run out.
        var head: ULID? { get }
        /// Steps past `head`.
        func previous(budget: inout Int) throws
        /// Moves to the newest id at or before `target`.
        func seek(atMost target: ULID, budget: inout Int) throws
    }

    /// Postings one row each, `prefix ‖ message(16)`.
    final class RowStream: Stream {
        private(set) var head: ULID?
        private let iterator: KeyValueIterator
        private let prefix: [UInt8]
        /// Steps tried before seeking, between 1 and `maxSteps`. A step costs far less than a
        /// seek (which descends every level of the LSM tree again), so when the target is
        /// usually a few postings away stepping wins, and when it is usually far the steps are
        /// wasted: double the allowance when stepping reached the target, halve it otherwise.
        private var stepAllowance = 2
        private static let maxSteps = 8

        init(_ database: Database, _ family: ColumnFamily, prefix: [UInt8], lower: ULID, upper: ULID, budget: inout Int) throws {
            self.prefix = prefix
            iterator = database.makeIterator(over: family, lower: prefix + lower.bytes, upper: prefix + upper.bytes)
            iterator.seekToLast()
            budget -= 1
            head = try read()
        }

        func previous(budget: inout Int) throws {
            iterator.previous()
            budget -= 1
            head = try read()
        }

        func seek(atMost target: ULID, budget: inout Int) throws {
            var steps = 0
            while let current = head, current > target, steps < stepAllowance {
                iterator.previous()
                steps += 1
                budget -= 1
                head = try read()
            }
            if let current = head, current > target {
                stepAllowance = Swift.max(1, stepAllowance / 2)
                var key = prefix
                target.append(to: &key)
                iterator.seekForPrevious(key)
                budget -= 1
                head = try read()
            } else {
                stepAllowance = Swift.min(Self.maxSteps, stepAllowance * 2)
            }
        }

        private func read() throws -> ULID? {
            guard iterator.isValid else { try iterator.checkError(); return nil }
            // The message id is the key's last 16 bytes.
            return iterator.withKey { key in key.count >= 16 ? ULID(bytes: key[(key.count - 16)...]) : nil }
        }
    }

    /// Postings in runs, `prefix ‖ run end(16) → PostingBlock`: a run ends at its largest id
    /// (the open run at `ULID.max`), so the run holding an id is the first at or after it.
    final class RunStream: Stream {
        private(set) var head: ULID?
        private let iterator: KeyValueIterator
        private let prefix: [UInt8]
        private let lower: ULID
        private var run: [ULID] = []
        private var index = -1

        init(_ database: Database, _ family: ColumnFamily, prefix: [UInt8], lower: ULID, upper: ULID, budget: inout Int) throws {
            self.prefix = prefix
            self.lower = lower
            // Runs ending before `lower` hold nothing at or above it; any run may hold ids below `upper`.
            iterator = database.makeIterator(over: family, lower: prefix + lower.bytes, upper: KeyWriter.prefixSuccessor(prefix))
            if let newest = upper.predecessor {
                try position(atMost: newest, budget: &budget)
            }
        }

        func previous(budget: inout Int) throws {
            index -= 1
            budget -= 1
            try settle(budget: &budget)
        }

        func seek(atMost target: ULID, budget: inout Int) throws {
            budget -= 1
            // Newest first, the target is mostly a few postings below the head in the same
            // run: galloping back from the head finds it in a few comparisons.
            if let found = Self.newest(in: run, atMost: target, before: index) {
                index = found
                try settle(budget: &budget)
                return
            }
            // Usually the target is in the run just before: a step back is cheaper than a seek.
            iterator.previous()
            budget -= 1
            if try load(), let first = run.first, first <= target {
                index = PostingBlock.index(of: target.successor ?? .max, in: run) - 1
                try settle(budget: &budget)
            } else {
                try position(atMost: target, budget: &budget)
            }
        }

        /// Reads the run that holds `target` or would, and stands on its newest id at or before it.
        private func position(atMost target: ULID, budget: inout Int) throws {
            var key = prefix
            target.append(to: &key)
            iterator.seek(key)
            budget -= 1
            guard try load() else { head = nil; return }
            index = PostingBlock.index(of: target.successor ?? .max, in: run) - 1
            try settle(budget: &budget)
        }

        /// Steps back through earlier runs while the index is before the current run's start.
        private func settle(budget: inout Int) throws {
            while index < 0 {
                iterator.previous()
                budget -= 1
                guard try load() else { head = nil; return }
                index = run.count - 1
            }
            head = run[index] >= lower ? run[index] : nil
        }

        /// The index of the newest of `ids[..<end]` at or before `target`; nil when all are
        /// newer. Probes 1, 2, 4… back from `end`, then halves the last gap.
        static func newest(in ids: [ULID], atMost target: ULID, before end: Int) -> Int? {
            ids.withUnsafeBufferPointer { ids in
                // ids[upper..<end] are all newer than the target.
                var (upper, step, lower) = (Swift.min(end, ids.count), 1, 0)
                while upper - step >= 0 {
                    if ids[upper - step] <= target {
                        lower = upper - step
                        break
                    }
                    upper -= step
                    step *= 2
                }
                while lower < upper {
                    let middle = (lower + upper) / 2
                    if ids[middle] <= target { lower = middle + 1 } else { upper = middle }
                }
                return lower > 0 ? lower - 1 : nil
            }
        }

        private func load() throws -> Bool {
            guard iterator.isValid else {
                try iterator.checkError()
                run = []
                return false
            }
            run = iterator.withValue { PostingBlock.decodeIDs($0) }
            return true
        }
    }
}
