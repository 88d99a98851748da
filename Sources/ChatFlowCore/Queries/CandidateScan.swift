import ChatFlowStorage

/// Newest-first candidates for a search, from whichever index drives it.
///
/// Every iterator move counts against the caller's budget; once it is spent the scan
/// pauses at the newest id it has not settled, so the next page starts exactly there.
enum CandidateScan {
    /// Messages under every cursor: a leapfrog join of their postings.
    case join([PostingCursor])
    /// A user's own messages in one chat (user index).
    case authored(KeyValueIterator)
    case timeline(KeyValueIterator)

    enum Step {
        case candidate(MessageID)
        /// The budget ran out. Every candidate newer than `through` has been returned;
        /// `through` itself and older ones have not been looked at.
        case paused(through: ULID)
        case end
    }

    /// The next candidate, or where the scan paused, or its end.
    func next(budget: inout Int) throws -> Step {
        switch self {
        case .join(let cursors):
            return try Self.join(cursors, budget: &budget)
        case .authored(let iterator):
            while iterator.isValid {
                guard let message = UserIndexKeys.decodeChatEntry(iterator.key) else {
                    iterator.previous()
                    continue
                }
                if budget <= 0 { return .paused(through: message.ulid) }
                iterator.previous()
                budget -= 1
                return .candidate(message)
            }
            try iterator.checkError()
            return .end
        case .timeline(let iterator):
            while iterator.isValid {
                guard let (_, message) = TimelineKeys.decodeMessage(iterator.key) else {
                    iterator.previous()
                    continue
                }
                if budget <= 0 { return .paused(through: message.ulid) }
                iterator.previous()
                budget -= 1
                return .candidate(message)
            }
            try iterator.checkError()
            return .end
        }
    }

    /// Leapfrog join, newest first. No message newer than the oldest head can still be under
    /// every cursor (the cursor holding that head has passed it), so the oldest head is the
    /// target: each cursor ahead of it moves back to it or older, lowering the target when it
    /// lands older, until all heads agree on a candidate. Between calls every cursor is past
    /// the last candidate, so every common id newer than the oldest head has been returned.
    private static func join(_ cursors: [PostingCursor], budget: inout Int) throws -> Step {
        guard !cursors.isEmpty else { return .end }
        if cursors.count == 2 { return try join(cursors[0], cursors[1], budget: &budget) }
        while true {
            var target = ULID.max
            for cursor in cursors {
                guard let head = cursor.head else { return .end }
                target = Swift.min(target, head)
            }
            var agreed = true
            for cursor in cursors where cursor.head != target {
                if budget <= 0 { return .paused(through: target) }
                try cursor.seek(atMost: target, budget: &budget)
                guard let head = cursor.head else { return .end }
                if head != target {
                    target = head
                    agreed = false
                }
            }
            if agreed {
                for cursor in cursors { try cursor.advance(budget: &budget) }
                return .candidate(MessageID(target))
            }
        }
    }

    /// The same join for two cursors (two terms, the commonest search), without the loops
    /// over the list: the one ahead moves back to the other's head until they agree.
    private static func join(_ a: PostingCursor, _ b: PostingCursor, budget: inout Int) throws -> Step {
        while true {
            guard let headA = a.head, let headB = b.head else { return .end }
            if headA == headB {
                try a.advance(budget: &budget)
                try b.advance(budget: &budget)
                return .candidate(MessageID(headA))
            }
            if budget <= 0 { return .paused(through: Swift.min(headA, headB)) }
            if headA > headB {
                try a.seek(atMost: headB, budget: &budget)
            } else {
                try b.seek(atMost: headA, budget: &budget)
            }
        }
    }
}
