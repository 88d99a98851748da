import ChatFlowStorage

extension SearchProjection {
    /// The documents before the horizon name their postings, which are deleted one by one
    /// (postings are ordered by term first, so a message's postings are not one range);
    /// the documents themselves go in one range delete.
    public func prune(_ context: PruneContext) throws {
        let lower = SearchKeys.document(MessageID(.zero))
        let upper = SearchKeys.document(MessageID(context.horizon))
        try context.forEach(from: lower, to: upper) { key, value in
            guard let message = KeyReader.read(key, { reader -> MessageID? in _ = reader.byte(); return reader.message() }) else { return }
            let document = try SearchDocument(decoding: value)
            for term in document.terms {
                context.delete(SearchKeys.posting(document.chat, term, message))
            }
        }
        context.deleteRange(from: lower, to: upper)
    }
}
