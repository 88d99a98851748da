import ChatFlowStorage
import Logging

/// One open data directory: the database, the change log in it, the projections and the
/// projector that keeps them current, and the reader that answers queries.
public final class ChatFlowEngine: Sendable {
    public let database: Database
    public let log: RocksDBChangeLog
    public let store: ProjectionStore
    public let projector: Projector
    public let reader: ChatFlowReader

    public init(dataDirectory: String, logOptions: ChangeLogOptions = ChangeLogOptions(), databaseOptions: DatabaseOptions = DatabaseOptions(), logger: Logger = Logger(label: "chatflow")) throws {
        database = try ProjectionStore.openDatabase(path: dataDirectory, options: databaseOptions)
        do {
            log = try RocksDBChangeLog(database: database, options: logOptions)
            store = try ProjectionStore(database: database)
            projector = try Projector(log: log, store: store, logger: logger)
            reader = ChatFlowReader(store: store)
        } catch {
            database.close()
            throw error
        }
    }

    /// Stops the log's writer (after it commits what is queued) and closes the database.
    /// Call after the projector's service has stopped.
    public func close() {
        log.close()
        database.close()
    }
}
