/// An endless sequence of log records after a position: it reads what is committed,
/// then sleeps until the log signals the next commit. It ends when its task is cancelled.
public struct LogTail<Log: ChangeLog>: AsyncSequence {
    public typealias Element = LogRecord

    let log: Log
    let position: ULID?
    let batchSize: Int

    public func makeAsyncIterator() -> Iterator {
        Iterator(log: log, position: position, batchSize: batchSize)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let log: Log
        var position: ULID?
        let batchSize: Int
        var buffered: [LogRecord] = []
        var index = 0

        public mutating func next() async throws -> LogRecord? {
            while index == buffered.count {
                if Task.isCancelled { return nil }
                buffered = try log.read(after: position, limit: batchSize)
                index = 0
                if buffered.isEmpty {
                    await log.waitForCommit(after: position)
                }
            }
            let record = buffered[index]
            index += 1
            position = record.id
            return record
        }
    }
}
