import ChatFlowStorage

extension ReactionsProjection {
    /// Both layouts start with the message id: two range deletes remove every reaction and
    /// count of the messages before the horizon.
    public func prune(_ context: PruneContext) throws {
        for (lower, upper) in ReactionsKeys.rangesBefore(MessageID(context.horizon)) {
            context.deleteRange(from: lower, to: upper)
        }
    }
}
