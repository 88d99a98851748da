import ChatFlowStorage

extension SearchProjection {
    /// Every posting before the horizon goes. Per term named by a document before it: the
    /// runs ending before the horizon in one range delete, and the first run after it
    /// trimmed to the horizon, with no floor (no boundary before it remains), as a rebuild
    /// of what is left would write it. The documents go in one range delete.
    public func prune(_ context: PruneContext) throws {
        let lower = SearchKeys.document(MessageID(.zero))
        let upper = SearchKeys.document(MessageID(context.horizon))
        var terms = Set<[UInt8]>()
        try context.forEach(from: lower, to: upper) { _, value in
            let document = try SearchDocument(decoding: value)
            for term in document.terms { terms.insert(SearchKeys.termPrefix(document.chat, term)) }
        }
        for term in terms {
            // Most terms have no run ending before the horizon: no range tombstone for them.
            if try context.first(from: SearchKeys.block(term, .zero), to: SearchKeys.block(term, context.horizon)) != nil {
                context.deleteRange(from: SearchKeys.block(term, .zero), to: SearchKeys.block(term, context.horizon))
            }
            guard let (key, value) = try context.first(from: SearchKeys.block(term, context.horizon), to: KeyWriter.prefixSuccessor(term)!) else { continue }
            var block = try PostingBlock(decoding: value)
            block.ids.removeFirst(block.index(of: context.horizon))
            block.floor = .zero
            if block.ids.isEmpty && key == SearchKeys.block(term, PostingBlock.openKey) {
                context.delete(key)
            } else {
                context.put(key, block.encoded())
            }
        }
        context.deleteRange(from: lower, to: upper)
    }
}
