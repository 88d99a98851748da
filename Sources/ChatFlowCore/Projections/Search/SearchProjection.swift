import ChatFlowStorage

/// Per chat postings from term to message. An edit replaces the message's postings with
/// those of its new text; a delete removes them.
public struct SearchProjection: Projection {
    public static let name = "search"
    /// 2: postings in runs (`PostingBlock`) instead of one row each.
    /// 3: run ends salted with the data directory's salt.
    /// 4: the digraph letters (ǆ, ǉ, ǌ, ǳ) and ĳ fold to the two letters they stand for;
    /// superscript, subscript and circled digits are digits of words.
    /// 5: half-width katakana fold to full-width ones, Roman numerals (Ⅻ) to their letters.
    /// 6: emoji are terms.
    public static let version = 6

    public init() {}

    public func apply(_ event: LoggedEvent, to rows: ProjectionRows) throws {
        switch event.event {
        case .messagePosted(let posted):
            try index(MessageID(event.id), SearchDocument(chat: posted.chat, terms: SearchDocument.terms(of: posted.content)), rows, isNewest: true)

        case .messageEdited(let edit):
            guard let old = try rows.get(SearchKeys.document(edit.message)).map(SearchDocument.init(decoding:)) else { return }
            try unindex(edit.message, old, rows)
            try index(edit.message, SearchDocument(chat: old.chat, terms: SearchDocument.terms(of: edit.content)), rows)

        case .messageDeleted(let deletion):
            guard let old = try rows.get(SearchKeys.document(deletion.message)).map(SearchDocument.init(decoding:)) else { return }
            try unindex(deletion.message, old, rows)
            rows.delete(SearchKeys.document(deletion.message))

        case .chatCreated, .chatUpdated, .memberJoined, .memberLeft, .reactionAdded, .reactionRemoved, .readMarkerMoved:
            break
        }
    }

    /// `isNewest`: the message was just posted, so its id is above every posting there is.
    private func index(_ message: MessageID, _ document: SearchDocument, _ rows: ProjectionRows, isNewest: Bool = false) throws {
        for term in document.terms {
            try add(message.ulid, to: SearchKeys.termPrefix(document.chat, term), rows, isNewest: isNewest)
        }
        rows.put(SearchKeys.document(message), document.encoded())
    }

    private func unindex(_ message: MessageID, _ document: SearchDocument, _ rows: ProjectionRows) throws {
        for term in document.terms {
            try remove(message.ulid, from: SearchKeys.termPrefix(document.chat, term), rows)
        }
    }

    // MARK: - Runs of postings

    /// The run `id` belongs in: the open run when `id` is above its floor (a new message,
    /// nearly always), else the first run ending at or after `id`.
    private func run(for id: ULID, _ term: [UInt8], _ rows: ProjectionRows) throws -> (key: ULID, block: PostingBlock)? {
        guard let open = try rows.get(SearchKeys.block(term, PostingBlock.openKey)).map(PostingBlock.init(decoding:)) else { return nil }
        if id > open.floor { return (PostingBlock.openKey, open) }
        // At or below the open run's floor there is always the run ending at that floor.
        guard let (key, value) = try rows.first(in: term, from: SearchKeys.block(term, id)),
              let run = ULID(bytes: key[(key.count - 16)...]) else {
            throw StorageError.malformed("search runs: no run at or after \(id) below the open run's floor \(open.floor)")
        }
        return (run, try PostingBlock(decoding: value))
    }

    private func add(_ id: ULID, to term: [UInt8], _ rows: ProjectionRows, isNewest: Bool) throws {
        // Nearly always: a new message, above every posting and not ending a run. It goes
        // to the open run's end, which the store does as it reads the row (`IDSetMerge`
        // adds ids to a run's encoding as `insert` does): the write is the id alone, not
        // the run again, and the run is not read.
        if isNewest && !PostingBlock.isBoundary(id, salt: rows.salt) {
            try rows.merge(SearchKeys.block(term, PostingBlock.openKey), adding: id.bytes, group: term)
            return
        }
        // An edit of a recent message: above every posting of the open run, appended to
        // the run's bytes as they are, without decoding the run and encoding it again.
        if !PostingBlock.isBoundary(id, salt: rows.salt) {
            let openKey = SearchKeys.block(term, PostingBlock.openKey)
            if var open = try rows.get(openKey), PostingBlock.append(id, toEncoded: &open) {
                rows.put(openKey, open, group: term)
                return
            }
        }
        var (key, block) = try run(for: id, term, rows) ?? (PostingBlock.openKey, PostingBlock())
        guard block.insert(id) else { return }
        if PostingBlock.isBoundary(id, salt: rows.salt) && id != key {
            // `id` ends a run: the postings up to it become one.
            let (upTo, after) = block.split(at: id)
            rows.put(SearchKeys.block(term, id), upTo.encoded(), group: term)
            block = after
        }
        rows.put(SearchKeys.block(term, key), block.encoded(), group: term)
    }

    private func remove(_ id: ULID, from term: [UInt8], _ rows: ProjectionRows) throws {
        guard var (key, block) = try run(for: id, term, rows), block.remove(id) else { return }
        if id == key {
            // The run's boundary is gone: what is left of it joins the next run.
            rows.delete(SearchKeys.block(term, key))
            // The open run is always there while postings are: a boundary has one after it.
            guard let next = key.successor, let (nextKey, nextBlock) = try run(for: next, term, rows) else {
                throw StorageError.malformed("search runs: no run after the boundary \(key)")
            }
            (key, block) = (nextKey, PostingBlock(floor: block.floor, ids: block.ids + nextBlock.ids))
        }
        if key == PostingBlock.openKey && block.ids.isEmpty && block.floor == .zero {
            rows.delete(SearchKeys.block(term, key))  // the term's last posting
        } else {
            rows.put(SearchKeys.block(term, key), block.encoded(), group: term)
        }
    }
}
