/// Per chat postings from term to message. An edit replaces the message's postings with
/// those of its new text; a delete removes them.
public struct SearchProjection: Projection {
    public static let name = "search"
    public static let version = 1

    public init() {}

    public func apply(_ event: LoggedEvent, to rows: ProjectionRows) throws {
        switch event.event {
        case .messagePosted(let posted):
            index(MessageID(event.id), SearchDocument(chat: posted.chat, terms: SearchDocument.terms(of: posted.content)), rows)

        case .messageEdited(let edit):
            guard let old = try rows.get(SearchKeys.document(edit.message)).map(SearchDocument.init(decoding:)) else { return }
            unindex(edit.message, old, rows)
            index(edit.message, SearchDocument(chat: old.chat, terms: SearchDocument.terms(of: edit.content)), rows)

        case .messageDeleted(let deletion):
            guard let old = try rows.get(SearchKeys.document(deletion.message)).map(SearchDocument.init(decoding:)) else { return }
            unindex(deletion.message, old, rows)
            rows.delete(SearchKeys.document(deletion.message))

        case .chatCreated, .chatUpdated, .memberJoined, .memberLeft, .reactionAdded, .reactionRemoved, .readMarkerMoved:
            break
        }
    }

    private func index(_ message: MessageID, _ document: SearchDocument, _ rows: ProjectionRows) {
        for term in document.terms {
            rows.put(SearchKeys.posting(document.chat, term, message))
        }
        rows.put(SearchKeys.document(message), document.encoded())
    }

    private func unindex(_ message: MessageID, _ document: SearchDocument, _ rows: ProjectionRows) {
        for term in document.terms {
            rows.delete(SearchKeys.posting(document.chat, term, message))
        }
    }
}
