import ChatFlowStorage

extension ReactionsProjection {
    /// Both layouts start with the message id: two range deletes remove every reaction and
    /// count of the messages before the horizon.
    public func prune(_ context: PruneContext) throws {
        context.put(ReactionsKeys.horizon, context.horizon.bytes)
        for (lower, upper) in ReactionsKeys.rangesBefore(MessageID(context.horizon)) {
            context.deleteRange(from: lower, to: upper)
        }
    }

    /// A rebuild starts from the horizon that the live projection's last prune left.
    public func seed(_ retention: RetentionState, rows: ProjectionRows) throws {
        rows.put(ReactionsKeys.horizon, retention.horizon.bytes)
    }

    /// Whether retention removed `message`. A reaction checked just before a pass can be
    /// applied just after it pruned the message: it would stay, for a message gone, until
    /// the next pass (and a rebuild, which prunes after replaying, has no such row).
    func isRemoved(_ message: MessageID, _ rows: ProjectionRows) throws -> Bool {
        guard let horizon = try rows.get(ReactionsKeys.horizon).flatMap({ ULID(bytes: $0) }) else { return false }
        return message.ulid < horizon
    }
}
