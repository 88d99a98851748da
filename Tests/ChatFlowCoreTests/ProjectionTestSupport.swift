import ChatFlowCore
import ChatFlowStorage
import Synchronization
import Testing
import ChatFlowTestSupport

/// Times the tests put on events, through the change log's clock.
enum TestTime {
    /// 2026-01-01T00:00:00Z.
    static let jan1: UInt64 = 1_767_225_600_000
    static let hour: UInt64 = 3_600_000
    static let day: UInt64 = 86_400_000
}

/// The change log's clock, set by the test: each event's time (its id's timestamp) is
/// whatever the clock says when it commits.
final class TestClock: Sendable {
    private let now: Mutex<UInt64>

    init(_ start: UInt64 = TestTime.jan1) {
        now = Mutex(start)
    }

    var milliseconds: UInt64 { now.withLock { $0 } }

    func set(_ milliseconds: UInt64) {
        now.withLock { $0 = milliseconds }
    }
}

/// A `ChatFlowEngine` on a fresh data directory with a test clock, and one helper per event
/// kind; each helper appends one event and returns its log id. Nothing is projected until
/// `catchUp()`.
final class TestWorld {
    let directory: TemporaryDirectory
    let clock: TestClock
    private(set) var engine: ChatFlowEngine

    /// With `seed`, ids come from a generator seeded with it, so a run repeats exactly.
    init(clock: TestClock = TestClock(), seed: UInt64? = nil) throws {
        directory = TemporaryDirectory("chatflow-core")
        self.clock = clock
        random = seed.map { seed in
            let state = Mutex(SplitMix64(seed: seed))
            return { state.withLock { generator in (UInt16(truncatingIfNeeded: generator.next()), generator.next()) } }
        } ?? ULIDGenerator.systemRandom
        engine = try Self.open(directory.appending("data"), clock: clock, random: random)
    }

    private let random: ULIDGenerator.Random

    private static func open(_ path: String, clock: TestClock, random: @escaping ULIDGenerator.Random) throws -> ChatFlowEngine {
        var options = ChangeLogOptions()
        options.clock = { clock.milliseconds }
        options.random = random
        return try ChatFlowEngine(dataDirectory: path, logOptions: options)
    }

    var reader: ChatFlowReader { engine.reader }

    /// Closes the engine and opens the data directory again, as a restart would.
    func reopen() throws {
        engine.close()
        engine = try Self.open(directory.appending("data"), clock: clock, random: random)
    }

    func close() {
        engine.close()
        directory.remove()
    }

    func catchUp() throws {
        try engine.projector.catchUp()
    }

    /// Every projection compared with a rebuild from the log; records an issue for each that differs.
    func expectVerified(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let reports = try Verifier(log: engine.log, store: engine.store).verify(projector: engine.projector)
        #expect(reports.map(\.projection) == ProjectionCatalog.names, sourceLocation: sourceLocation)
        for report in reports {
            #expect(report.equal, "\(report.projection): \(report.firstDifference ?? "")", sourceLocation: sourceLocation)
        }
    }

    // MARK: - Appending

    @discardableResult
    func append(_ actor: String, _ event: ChangeEvent) async throws -> ULID {
        let result = try await engine.log.append(EventCodec.encode(EventEnvelope(actor: UserID(unchecked: actor), event: event)))
        return result.ids[0]
    }

    func createChat(_ owner: String, name: String = "general", description: String = "", isPrivate: Bool = false) async throws -> ChatID {
        ChatID(try await append(owner, .chatCreated(.init(name: name, description: description, isPrivate: isPrivate))))
    }

    func join(_ user: String, _ chat: ChatID, by actor: String? = nil) async throws {
        try await append(actor ?? user, .memberJoined(.init(chat: chat, user: UserID(unchecked: user), role: .member)))
    }

    func leave(_ user: String, _ chat: ChatID, by actor: String? = nil) async throws {
        try await append(actor ?? user, .memberLeft(.init(chat: chat, user: UserID(unchecked: user))))
    }

    @discardableResult
    func post(_ user: String, _ chat: ChatID, _ content: String, type: MessageType = .text) async throws -> MessageID {
        MessageID(try await append(user, .messagePosted(.init(chat: chat, content: content, type: type))))
    }

    func edit(_ user: String, _ chat: ChatID, _ message: MessageID, _ content: String) async throws {
        try await append(user, .messageEdited(.init(chat: chat, message: message, content: content)))
    }

    func delete(_ user: String, _ chat: ChatID, _ message: MessageID) async throws {
        try await append(user, .messageDeleted(.init(chat: chat, message: message)))
    }

    func react(_ user: String, _ chat: ChatID, _ message: MessageID, _ emoji: String) async throws {
        try await append(user, .reactionAdded(.init(chat: chat, message: message, emoji: emoji)))
    }

    func unreact(_ user: String, _ chat: ChatID, _ message: MessageID, _ emoji: String) async throws {
        try await append(user, .reactionRemoved(.init(chat: chat, message: message, emoji: emoji)))
    }

    func markRead(_ user: String, _ chat: ChatID, _ message: MessageID) async throws {
        try await append(user, .readMarkerMoved(.init(chat: chat, message: message)))
    }
}

/// Runs `body` with a fresh world and closes it (engine first, then the directory) however
/// the body ends.
func withWorld<R>(clock: TestClock = TestClock(), seed: UInt64? = nil, _ body: (TestWorld) async throws -> R) async throws -> R {
    let world = try TestWorld(clock: clock, seed: seed)
    defer { world.close() }
    return try await body(world)
}

// MARK: - Pages

/// Follows `nextCursor` from the first page to the last and returns every item in order.
/// Records an issue for an empty page before the end, a page over `limit`, or a cursor loop.
func walkPages<Item>(limit: Int, sourceLocation: SourceLocation = #_sourceLocation, _ fetch: (String?) throws -> Page<Item>) throws -> (items: [Item], pages: Int) {
    var items: [Item] = []
    var cursor: String?
    var seen = Set<String>()
    var pages = 0
    repeat {
        let page = try fetch(cursor)
        pages += 1
        #expect(page.items.count <= limit, "page \(pages) has \(page.items.count) items, over the limit \(limit)", sourceLocation: sourceLocation)
        if page.nextCursor != nil {
            #expect(page.items.count == limit, "page \(pages) is short (\(page.items.count) of \(limit)) but not the last", sourceLocation: sourceLocation)
        }
        items += page.items
        cursor = page.nextCursor
        if let cursor {
            guard seen.insert(cursor).inserted, pages < 100_000 else {
                Issue.record("cursor \(cursor) repeats", sourceLocation: sourceLocation)
                break
            }
        }
    } while cursor != nil
    return (items, pages)
}

/// Expects `body` to throw `ChatFlowError.invalid`.
func expectInvalid<T>(_ what: Comment, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T) {
    do {
        _ = try body()
        Issue.record("\(what): expected ChatFlowError.invalid, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as ChatFlowError {
        guard case .invalid = error else {
            Issue.record("\(what): expected ChatFlowError.invalid, got \(error)", sourceLocation: sourceLocation)
            return
        }
    } catch {
        Issue.record("\(what): expected ChatFlowError.invalid, got \(error)", sourceLocation: sourceLocation)
    }
}

// MARK: - A model of reactions

/// Reactions as the log defines them: per message and emoji, the set of users after
/// applying every add and remove in log order (adding a present user or removing an
/// absent one changes nothing).
struct ReactionLedger {
    private(set) var users: [MessageID: [String: Set<String>]] = [:]

    mutating func apply(_ event: LoggedEvent) {
        switch event.event {
        case .reactionAdded(let added):
            users[added.message, default: [:]][added.emoji, default: []].insert(event.actor.rawValue)
        case .reactionRemoved(let removed):
            users[removed.message, default: [:]][removed.emoji, default: []].remove(event.actor.rawValue)
        default:
            break
        }
    }

    /// `{emoji: count}` without zero counts, as `ChatFlowReader.reactionCounts` answers.
    func counts(_ message: MessageID) -> [String: Int] {
        (users[message] ?? [:]).compactMapValues { $0.isEmpty ? nil : $0.count }
    }

    var messages: Set<MessageID> { Set(users.keys) }

    /// The ledger of a whole log.
    static func of(_ log: RocksDBChangeLog) throws -> (ledger: ReactionLedger, events: [LoggedEvent]) {
        let events = try log.read(after: nil, limit: .max).map { LoggedEvent(id: $0.id, envelope: try EventCodec.decode($0.payload)) }
        var ledger = ReactionLedger()
        for event in events { ledger.apply(event) }
        return (ledger, events)
    }
}
