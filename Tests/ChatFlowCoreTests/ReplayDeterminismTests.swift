import ChatFlowCore
import ChatFlowStorage
import Testing

/// Projections are a pure function of the log: however the projector got there (in small
/// tailing steps, or concurrently with the producers), they equal a rebuild byte for byte.
@Suite struct ReplayDeterminismTests {
    /// Appends `count` events from `producers` workload generators, interleaved at random,
    /// calling `between` after each; returns how many events of each kind were appended.
    private func generate(_ world: TestWorld, count: Int, producers: Int = 4, seed: UInt64, between: () throws -> Void = {}) async throws -> [EventKind: Int] {
        var generators = (0..<producers).map { producer in
            WorkloadGenerator(
                settings: .init(chats: 3, membersPerChat: 6, contentBytes: 60, userPrefix: "p\(producer)u"),
                seed: UInt64(producer) &* 0x9E37_79B9 &+ seed)
        }
        var random = SplitMix64(seed: seed)
        var kinds: [EventKind: Int] = [:]
        for _ in 0..<count {
            let producer = Int(random.next(below: UInt64(producers)))
            let envelope = generators[producer].next()
            kinds[envelope.event.kind, default: 0] += 1
            generators[producer].acknowledge(try await world.engine.log.append(EventCodec.encode(envelope)).ids[0])
            try between()
        }
        return kinds
    }

    private func expectEveryKind(_ kinds: [EventKind: Int], sourceLocation: SourceLocation = #_sourceLocation) {
        for kind in [EventKind.chatCreated, .memberJoined, .messagePosted, .messageEdited, .messageDeleted, .reactionAdded, .reactionRemoved, .readMarkerMoved] {
            #expect(kinds[kind, default: 0] > 0, "the workload has no \(kind) events", sourceLocation: sourceLocation)
        }
    }

    private func verify(_ world: TestWorld) throws -> [Verifier.Report] {
        try Verifier(log: world.engine.log, store: world.engine.store).verify(projector: world.engine.projector)
    }

    @Test func tailingInSmallStepsEqualsARebuild() async throws {
        try await withWorld { world in
            var random = SplitMix64(seed: 7)
            var untilCatchUp = 1 + Int(random.next(below: 300))
            var catchUps = 0
            let kinds = try await generate(world, count: 4_000, seed: 1) {
                untilCatchUp -= 1
                if untilCatchUp == 0 {
                    try world.catchUp()
                    catchUps += 1
                    untilCatchUp = 1 + Int(random.next(below: 300))
                }
            }
            try world.catchUp()
            expectEveryKind(kinds)
            #expect(catchUps >= 10)

            let reports = try verify(world)
            #expect(reports.map(\.projection) == ProjectionCatalog.names)
            for report in reports {
                #expect(report.equal, "\(report.projection): \(report.firstDifference ?? "")")
                #expect(report.rows > 1, "\(report.projection) has no rows")
            }
            // And the reactions the projector built are the log's net reactions.
            let (ledger, _) = try ReactionLedger.of(world.engine.log)
            for message in ledger.messages {
                #expect(try world.reader.reactionCounts(message) == ledger.counts(message))
            }
        }
    }

    @Test func concurrentProducersWithARunningProjectorEqualARebuild() async throws {
        try await withWorld { world in
            let projector = world.engine.projector
            let log = world.engine.log
            let running = Task { try await projector.run() }
            let last = try await withThrowingTaskGroup(of: ULID.self) { group in
                for producer in 0..<4 {
                    group.addTask {
                        var generator = WorkloadGenerator(
                            settings: .init(chats: 2, membersPerChat: 4, contentBytes: 40, userPrefix: "c\(producer)u"),
                            seed: UInt64(producer) + 100)
                        var last = ULID.zero
                        for _ in 0..<600 {
                            let id = try await log.append(EventCodec.encode(generator.next())).ids[0]
                            generator.acknowledge(id)
                            last = id
                        }
                        return last
                    }
                }
                return try await group.reduce(ULID.zero) { max($0, $1) }
            }
            try await projector.waitUntilApplied(last)
            running.cancel()
            _ = await running.result
            #expect(projector.isCaughtUp)
            #expect(projector.checkpoints.values.allSatisfy { $0 == last })

            for report in try verify(world) {
                #expect(report.equal, "\(report.projection): \(report.firstDifference ?? "")")
            }
        }
    }

    enum Corruption: String, Sendable {
        case strayRow, missingRow, changedValue
    }

    /// Verify is only worth something if it notices a difference: damage one live projection
    /// behind the projector's back, and it must name that projection and the first differing
    /// key, and only that projection. A rebuild of it repairs it.
    @Test(arguments: [
        ("reactions", Corruption.strayRow), ("search", .strayRow),
        ("timeline", .missingRow), ("user_messages", .missingRow),
        ("chats", .changedValue), ("read_state", .changedValue),
    ])
    func verifyFindsADifference(in projection: String, corruption: Corruption) async throws {
        try await withWorld { world in
            let kinds = try await generate(world, count: 400, producers: 2, seed: 11)
            #expect(kinds[.reactionAdded, default: 0] > 0)
            try world.catchUp()
            #expect(try verify(world).allSatisfy(\.equal))

            let database = world.engine.database
            let family = world.engine.store.family(of: projection)
            let batch = WriteBatch()
            let key: [UInt8]
            switch corruption {
            case .strayRow:
                key = [0x7F, 0xC0, 0xFF, 0xEE]
                batch.put(key, [0x01], in: family)
            case .missingRow, .changedValue:
                // The first data row (the checkpoint row 0x00 comes before it).
                let iterator = database.makeIterator(over: family, lower: [0x01])
                iterator.seekToFirst()
                try #require(iterator.isValid)
                key = iterator.key
                if corruption == .missingRow {
                    batch.delete(key, in: family)
                } else {
                    batch.put(key, iterator.value + [0x00], in: family)
                }
            }
            try database.write(batch, sync: false)

            let reports = try verify(world)
            #expect(reports.map(\.projection) == ProjectionCatalog.names)
            for report in reports where report.projection != projection {
                #expect(report.equal, "\(report.projection) was not touched: \(report.firstDifference ?? "")")
            }
            let damaged = try #require(reports.first { $0.projection == projection })
            #expect(!damaged.equal)
            let difference = try #require(damaged.firstDifference)
            #expect(difference.contains(hex(key.prefix(32))), "\(difference)")
            switch corruption {
            case .strayRow: #expect(difference.hasPrefix("live has"), "\(difference)")
            case .missingRow: #expect(difference.hasPrefix("the rebuild has"), "\(difference)")
            case .changedValue: #expect(difference.hasPrefix("values differ"), "\(difference)")
            }

            // Named twice (as `rebuild --projection x --projection x` would): rebuilt once.
            let rebuilt = try Rebuilder(log: world.engine.log, store: world.engine.store).rebuild([projection, projection])
            #expect(rebuilt.projections == [projection])
            for report in try verify(world) {
                #expect(report.equal, "after the rebuild, \(report.projection): \(report.firstDifference ?? "")")
            }
        }
    }

    private func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] })
    }
}
