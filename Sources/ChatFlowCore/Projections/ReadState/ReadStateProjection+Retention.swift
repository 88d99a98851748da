import ChatFlowStorage

extension ReadStateProjection {
    /// Removes the positions of messages before the horizon (a range delete per chat that
    /// still has some: a long history goes in many passes, each a horizon further on) and
    /// moves every marker left before the horizon to "read up to the horizon": the removed
    /// messages no longer exist, so they cannot be unread. The chat's sequence numbers are
    /// kept, so the markers after the horizon stay exact.
    public func prune(_ context: PruneContext) throws {
        context.put(ReadStateKeys.horizon, context.horizon.bytes)
        let before = try messagesBefore(context.horizon, in: context)
        // Per chat and author: the sequence numbers of the removed messages, ascending.
        var removed: [ChatID: [UserID: [UInt64]]] = [:]
        for (chat, count) in before where count > 0 {
            let lower = ReadStateKeys.position(chat, MessageID(.zero))
            let upper = ReadStateKeys.position(chat, MessageID(context.horizon))
            var found = false
            try context.forEach(from: lower, to: upper) { _, value in
                let (sequence, author) = try decodePosition(value)
                removed[chat, default: [:]][author, default: []].append(sequence)
                found = true
            }
            if found { context.deleteRange(from: lower, to: upper) }
            for (author, sequences) in removed[chat] ?? [:] {
                try uncount(sequences, context) { ReadStateKeys.ownBlock(chat, author, $0) }
            }
            // Deleted messages before the horizon are before every marker the pass leaves;
            // they leave their blocks' counts too.
            let deletedLower = ReadStateKeys.deleted(chat, 0)
            let deletedUpper = ReadStateKeys.deleted(chat, count + 1)
            var deleted: [UserID: [UInt64]] = [:]
            try context.forEach(from: deletedLower, to: deletedUpper) { key, value in
                guard let sequence = ReadStateKeys.decodeDeleted(key) else { return }
                deleted[UserID(unchecked: String(decoding: value, as: UTF8.self)), default: []].append(sequence)
            }
            if !deleted.isEmpty {
                context.deleteRange(from: deletedLower, to: deletedUpper)
                for (author, sequences) in deleted {
                    try uncount(sequences, context) { ReadStateKeys.authorDeletedBlock(chat, author, $0) }
                }
                try uncount(deleted.values.flatMap { $0 }, context) { ReadStateKeys.deletedBlock(chat, $0) }
            }
        }
        try context.forEach(from: ReadStateKeys.markersPrefix, to: KeyWriter.prefixSuccessor(ReadStateKeys.markersPrefix)!) { key, value in
            guard let (user, chat) = ReadStateKeys.decodeMarker(key), let base = before[chat], base > 0 else { return }
            let marker = try ReadMarker(decoding: value)
            let stale = marker.lastRead.map { $0.ulid < context.horizon } ?? (marker.sequence < base)
            guard stale else { return }
            // Own messages counted after the marker that are now gone.
            let own = removed[chat]?[user].map { sequences in sequences.count - sequences.partitioningIndex { $0 > marker.sequence } } ?? 0
            let ownSince = marker.ownSince > UInt64(own) ? marker.ownSince - UInt64(own) : 0
            context.put(key, ReadMarker(lastRead: nil, sequence: base, ownSince: ownSince).encoded())
        }
    }

    /// A rebuild from a shortened log numbers each chat's messages from where they started.
    public func seed(_ retention: RetentionState, rows: ProjectionRows) throws {
        guard let logHorizon = retention.logHorizon else { return }
        rows.put(ReadStateKeys.horizon, logHorizon.bytes)
        for (chat, count) in retention.messagesBefore {
            rows.setCounter(ReadStateKeys.sequence(chat), count)
        }
    }

    /// A marker moved to a message that retention removed (a rebuild replaying a move made
    /// just before the pass) reads up to the horizon, as the pass left the live marker.
    func moveToRemovedMessage(_ moved: ChangeEvent.ReadMarkerMoved, by reader: UserID, _ markerKey: [UInt8], _ rows: ProjectionRows) throws {
        guard let horizon = try rows.get(ReadStateKeys.horizon).flatMap({ ULID(bytes: $0) }), moved.message.ulid < horizon else { return }
        let start = ReadStateKeys.position(moved.chat, MessageID(horizon))
        let first = try rows.first(in: ReadStateKeys.positionsPrefix(moved.chat), from: start)
        let base = try first.map { try decodePosition($0.value).0 - 1 } ?? rows.counter(ReadStateKeys.sequence(moved.chat))
        let own = try ownMessages(of: reader, in: moved.chat, after: base, from: start, rows)
        rows.put(markerKey, ReadMarker(lastRead: nil, sequence: base, ownSince: own).encoded())
    }

    /// Takes removed messages out of their blocks' counts (the rows `key` names for a block),
    /// as a rebuild from the shortened log would never have counted them.
    func uncount(_ sequences: [UInt64], _ context: PruneContext, key: (UInt64) -> [UInt8]) throws {
        var perBlock: [UInt64: UInt64] = [:]
        for sequence in sequences { perBlock[ReadStateKeys.block(of: sequence), default: 0] += 1 }
        for (block, removed) in perBlock {
            let key = key(block)
            let count = try context.get(key).flatMap { KeyReader.read($0) { $0.uint64() } } ?? 0
            if count > removed {
                context.put(key, KeyWriter.build { $0.uint64(count - removed) })
            } else {
                context.delete(key)
            }
        }
    }

    /// Per chat with messages: how many were posted before `horizon` — one less than the
    /// sequence number of its first message at or after the horizon, or all of them.
    func messagesBefore(_ horizon: ULID, in context: PruneContext) throws -> [ChatID: UInt64] {
        var counts: [ChatID: UInt64] = [:]
        try context.forEach(from: ReadStateKeys.sequencesPrefix, to: KeyWriter.prefixSuccessor(ReadStateKeys.sequencesPrefix)!) { key, value in
            guard let chat = ReadStateKeys.decodeSequence(key), let total = KeyReader.read(value, { $0.uint64() }) else { return }
            let firstKept = try context.first(
                from: ReadStateKeys.position(chat, MessageID(horizon)),
                to: KeyWriter.prefixSuccessor(ReadStateKeys.positionsPrefix(chat))!)
            counts[chat] = try firstKept.map { try decodePosition($0.value).0 - 1 } ?? total
        }
        return counts
    }
}

extension Array where Element == UInt64 {
    /// The index of the first element for which `predicate` holds, in an array where it
    /// holds for a suffix.
    fileprivate func partitioningIndex(where predicate: (UInt64) -> Bool) -> Int {
        var low = 0, high = count
        while low < high {
            let middle = (low + high) / 2
            if predicate(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
