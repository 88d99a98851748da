import ChatFlowStorage
import Synchronization

/// Where each projection's rows live: the active generation of every projection, its
/// checkpoint, and the switch-over that a rebuild ends with.
public final class ProjectionStore: Sendable {
    public let database: Database
    private let generations: ColumnFamily
    private let active: Mutex<[String: (generation: UInt32, family: ColumnFamily)]>
    /// A random value made once per data directory and kept with it (backups included), which
    /// projections mix into row layouts that users must not be able to steer: see
    /// `ProjectionRows.salt`. Every generation of a projection sees the same salt, so a
    /// rebuild lays rows out exactly as the projection it replaces.
    public let salt: UInt64
    /// The projections this opening started afresh because the log held rows of another
    /// version of them, with that version: the projector builds them again from the log.
    public let restarted: [(name: String, storedVersion: Int, version: Int)]

    /// Opens the projections of `database`. A projection seen for the first time, or whose
    /// stored version differs from the code's, gets a fresh empty generation that the
    /// projector fills from the start of the log (or that `ChatFlowEngine` rebuilds, when
    /// retention has shortened the log). Generations no longer referenced (left by
    /// a rebuild that did not finish) are dropped. A data directory without a salt gets one
    /// from `random`.
    public init(database: Database, random: () -> UInt64 = { var system = SystemRandomNumberGenerator(); return system.next() }) throws {
        self.database = database
        generations = try database.family(ProjectionCatalog.generationsFamily)
        salt = try Self.loadSalt(database: database, generations: generations, random: random)
        var active: [String: (UInt32, ColumnFamily)] = [:]
        var restarted: [(String, Int, Int)] = []
        for projection in ProjectionCatalog.all {
            let stored = try database.get(Array(projection.name.utf8), in: generations).flatMap(Self.decodeGeneration)
            if let stored, stored.version == UInt32(projection.version),
               let family = try? database.family(ProjectionCatalog.familyName(projection.name, generation: stored.generation)) {
                active[projection.name] = (stored.generation, family)
            } else if !database.isReadOnly {
                let generation = (stored?.generation ?? 0) + 1
                let family = try database.createFamily(ProjectionCatalog.familyName(projection.name, generation: generation))
                let batch = WriteBatch()
                batch.put(Array(projection.name.utf8), Self.encodeGeneration(generation, version: projection.version), in: generations)
                try database.write(batch, sync: true)
                active[projection.name] = (generation, family)
                if let stored, stored.version != UInt32(projection.version) { restarted.append((projection.name, Int(stored.version), projection.version)) }
            } else {
                throw StorageError.malformed("projection \(projection.name) has not been built in \(database.path); start the server or run rebuild once")
            }
        }
        self.active = Mutex(active)
        self.restarted = restarted
        if !database.isReadOnly { try dropUnreferencedGenerations() }
    }

    /// Opens a data directory: the log, the generations table and every projection generation on disk.
    public static func openDatabase(path: String, options: DatabaseOptions = DatabaseOptions()) throws -> Database {
        try Database.open(path: path, columnFamilies: ProjectionCatalog.fixedFamilies, options: options)
    }

    public func family(of name: String) -> ColumnFamily {
        active.withLock { $0[name]!.family }
    }

    public func generation(of name: String) -> UInt32 {
        active.withLock { $0[name]!.generation }
    }

    /// The id of the last event the projection applied, or nil before the first.
    public func checkpoint(of name: String) throws -> ULID? {
        try Self.checkpoint(in: family(of: name), database: database)
    }

    static func checkpoint(in family: ColumnFamily, database: Database) throws -> ULID? {
        try database.get(CheckpointKey.bytes, in: family).flatMap { ULID(bytes: $0) }
    }

    // MARK: - Rebuild support

    /// A new, empty family for the next generation of `name`, not yet active.
    func makeNextGeneration(of name: String) throws -> (generation: UInt32, family: ColumnFamily) {
        let next = generation(of: name) + 1
        let familyName = ProjectionCatalog.familyName(name, generation: next)
        if let stale = try? database.family(familyName) { try database.dropFamily(stale) }
        return (next, try database.createFamily(familyName))
    }

    /// Makes `family` the live generation of `name` (one synced write) and drops the old one.
    func activate(_ name: String, generation: UInt32, family: ColumnFamily) throws {
        guard let projection = ProjectionCatalog.projection(named: name) else { return }
        let batch = WriteBatch()
        batch.put(Array(name.utf8), Self.encodeGeneration(generation, version: projection.version), in: generations)
        try database.write(batch, sync: true)
        let old = active.withLock { active in
            defer { active[name] = (generation, family) }
            return active[name]?.family
        }
        if let old, old !== family { try database.dropFamily(old) }
    }

    /// Drops a family made by `makeNextGeneration` that will not be activated.
    func discard(_ family: ColumnFamily) throws {
        try database.dropFamily(family)
    }

    private func dropUnreferencedGenerations() throws {
        let live = Set(active.withLock { $0.values.map(\.family.name) })
        for name in database.familyNames {
            guard let (projection, _) = ProjectionCatalog.parseFamilyName(name),
                  ProjectionCatalog.projection(named: projection) != nil, !live.contains(name) else { continue }
            try database.dropFamily(database.family(name))
        }
    }

    /// A row of `GenerationsKeys`.
    private static let saltKey = GenerationsKeys.salt

    private static func loadSalt(database: Database, generations: ColumnFamily, random: () -> UInt64) throws -> UInt64 {
        if let stored = try database.get(saltKey, in: generations) {
            guard let salt = KeyReader.read(stored, { reader -> UInt64? in
                guard let salt = reader.uint64(), reader.isAtEnd else { return nil }
                return salt
            }) else { throw StorageError.malformed("projection salt of \(stored.count) bytes") }
            return salt
        }
        // Read-only, a directory without a salt has no generation built with one either.
        guard !database.isReadOnly else { return 0 }
        let salt = random()
        let batch = WriteBatch()
        batch.put(saltKey, KeyWriter.build { $0.uint64(salt) }, in: generations)
        try database.write(batch, sync: true)
        return salt
    }

    private static func encodeGeneration(_ generation: UInt32, version: Int) -> [UInt8] {
        KeyWriter.build { $0.uint32(generation); $0.uint32(UInt32(version)) }
    }

    private static func decodeGeneration(_ bytes: [UInt8]) -> (generation: UInt32, version: UInt32)? {
        KeyReader.read(bytes) { reader in
            guard let generation = reader.uint32(), let version = reader.uint32(), reader.isAtEnd else { return nil }
            return (generation, version)
        }
    }
}
