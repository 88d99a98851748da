import ChatFlowStorage
import Testing

@testable import ChatFlowCore

/// A failure after a batch is built and before it is written leaves nothing behind, and a
/// retry — over the same events or a different run of them — applies each event exactly once.
@Suite struct ProjectionFailureTests {
    private struct InjectedFailure: Error {}

    /// Whether the next write fails; the applier's hook reads it.
    private final class FailureSwitch {
        var armed = false
        var failures = 0
    }

    /// Every row of every live projection family, in key order.
    private func snapshot(_ store: ProjectionStore) throws -> [String: [[UInt8]]] {
        var rows: [String: [[UInt8]]] = [:]
        for name in ProjectionCatalog.names {
            let iterator = store.database.makeIterator(over: store.family(of: name))
            iterator.seekToFirst()
            while iterator.isValid {
                rows[name, default: []].append(iterator.key + [0xFF, 0xFF] + iterator.value)
                iterator.next()
            }
            try iterator.checkError()
        }
        return rows
    }

    @Test func aFailedBatchWritesNothingAndARetryCountsEachEventOnce() async throws {
        try await withWorld { world in
            // A log with plenty of reactions, edits and deletes, not yet projected.
            var generators = (0..<3).map { producer in
                WorkloadGenerator(settings: .init(chats: 2, membersPerChat: 5, contentBytes: 50, userPrefix: "f\(producer)u"), seed: UInt64(producer) + 31)
            }
            for i in 0..<2_500 {
                let producer = i % 3
                generators[producer].acknowledge(try await world.engine.log.append(EventCodec.encode(generators[producer].next())).ids[0])
            }
            let last = try #require(world.engine.log.lastPosition)

            // The engine's projector has not applied anything; drive the live families with
            // an applier of our own, as the projector does, failing some of its writes.
            let store = world.engine.store
            var applier = ProjectionApplier(database: store.database, salt: store.salt, targets: try ProjectionCatalog.all.map {
                ProjectionApplier.Target(projection: $0, family: store.family(of: $0.name), checkpoint: try store.checkpoint(of: $0.name))
            })
            #expect(applier.resumePosition == nil)
            let failure = FailureSwitch()
            applier.beforeWrite = {
                if failure.armed {
                    failure.armed = false
                    failure.failures += 1
                    throw InjectedFailure()
                }
            }

            var random = SplitMix64(seed: 5)
            var applied: [ULID] = []  // every position the applier committed
            var replays = 0
            while true {
                var from = applier.resumePosition
                // Sometimes hand it events it already applied, as a restarted reader might.
                if applied.count > 2, random.next(below: 4) == 0 {
                    from = applied[applied.count - 1 - Int(random.next(below: UInt64(min(applied.count, 5))))]
                    if from != applier.resumePosition { replays += 1 }
                }
                let records = try world.engine.log.read(after: from, limit: 1 + Int(random.next(below: 250)))
                if records.isEmpty { break }
                if random.next(below: 3) == 0 {
                    let before = try snapshot(store)
                    let position = applier.resumePosition
                    failure.armed = true
                    #expect(throws: InjectedFailure.self) { try applier.apply(records) }
                    #expect(applier.resumePosition == position, "a failed batch must not move the checkpoint")
                    #expect(try snapshot(store) == before, "a failed batch must write nothing")
                    continue
                }
                try applier.apply(records)
                if let position = applier.resumePosition, applied.last != position { applied.append(position) }
            }
            #expect(applier.resumePosition == last)
            #expect(failure.failures >= 5)
            #expect(replays >= 3)

            // Reopen so the engine's projector starts from the checkpoints now on disk.
            try world.reopen()
            #expect(world.engine.projector.isCaughtUp)
            #expect(try world.engine.projector.catchUp() == 0)
            for report in try Verifier(log: world.engine.log, store: world.engine.store).verify(projector: world.engine.projector) {
                #expect(report.equal, "\(report.projection): \(report.firstDifference ?? "")")
            }
            // Nothing double counted: reactions equal the log's net reactions.
            let (ledger, events) = try ReactionLedger.of(world.engine.log)
            #expect(events.contains { $0.event.kind == .reactionRemoved })
            for message in ledger.messages {
                #expect(try world.reader.reactionCounts(message) == ledger.counts(message))
            }
        }
    }
    /// A listener prepares each batch as the projections stand right after it, however late
    /// it takes the batch from its stream: the live hub reads there who was a member when a
    /// message was posted, and a member who left in the next batch is still one of them.
    @Test func aListenerPreparesEachBatchAsItLeftTheProjections() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            try await world.join("bob", chat)
            try world.catchUp()
            let reader = world.reader
            let batches = world.engine.projector.subscribe(preparing: { _ in
                ((try? reader.memberJoinTimes(of: chat)) ?? [:]).keys.map(\.rawValue).sorted()
            })
            _ = try await world.post("alice", chat, "bob is still here")
            try world.catchUp()
            try await world.leave("bob", chat)
            try world.catchUp()
            var members: [[String]] = []
            for await prepared in batches {
                members.append(prepared)
                if members.count == 2 { break }
            }
            #expect(members == [["alice", "bob"], ["alice"]])
        }
    }

    /// A projection whose version changed starts over from the beginning of the log while
    /// the others carry on: the events it applies again are not news, and listeners (the
    /// live hub) hear only of events no projection had applied before.
    @Test func aProjectionStartingOverDoesNotReplayOldEventsToListeners() async throws {
        let world = try TestWorld()
        defer { world.close() }
        let chat = try await world.createChat("alice")
        for index in 0..<3 { _ = try await world.post("alice", chat, "older \(index)") }
        try world.catchUp()

        // As if the search projection's code had a new version: its stored one differs.
        let generations = try world.engine.database.family(ProjectionCatalog.generationsFamily)
        let batch = WriteBatch()
        batch.put(Array(SearchProjection.name.utf8), KeyWriter.build { $0.uint32(world.engine.store.generation(of: SearchProjection.name)); $0.uint32(999) }, in: generations)
        try world.engine.database.write(batch, sync: true)
        try world.reopen()
        #expect(try world.engine.store.checkpoint(of: SearchProjection.name) == nil, "search should start over")
        #expect(world.engine.store.restarted.map { "\($0.name) \($0.storedVersion) \($0.version)" } == ["search 999 \(SearchProjection.version)"])
        #expect(!world.engine.projector.hasReachedStart, "reads must wait until search has the old events again")

        let stream = world.engine.projector.subscribe()
        let newest = try await world.post("alice", chat, "newest")
        try world.catchUp()
        var heard: [ULID] = []
        for await events in stream {
            heard += events.map(\.id)
            if heard.contains(newest.ulid) { break }
        }
        #expect(heard == [newest.ulid], "listeners heard \(heard.count) events; only the new one is news")
        #expect(world.engine.projector.hasReachedStart)
        _ = try await world.post("alice", chat, "not projected yet")
        #expect(world.engine.projector.hasReachedStart, "lag after the start does not close the gate again")
        // The projection that started over did apply the old events.
        let found = try world.reader.search(in: chat, query: try SearchQuery.parse("older"), cursor: nil, limit: 10)
        #expect(found.items.count == 3)
        try world.expectVerified()
    }

    /// A rebuild that fails part way (here: a record no codec can read, met by every lane)
    /// throws, keeps the live generations as they were, and leaves none of the half-built ones.
    @Test func aFailedRebuildKeepsTheLiveProjections() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            for index in 0..<50 { try await world.post("alice", chat, "message \(index)") }
            try world.catchUp()
            let generations = ProjectionCatalog.names.map { world.engine.store.generation(of: $0) }
            let families = Set(world.engine.database.familyNames)
            _ = try await world.engine.log.append([0xFF, 0xFF, 0xFF])
            #expect(throws: (any Error).self) { try Rebuilder(log: world.engine.log, store: world.engine.store).rebuild() }
            #expect(ProjectionCatalog.names.map { world.engine.store.generation(of: $0) } == generations)
            #expect(Set(world.engine.database.familyNames) == families)
        }
    }

    /// A rebuild writes its new generations without the write-ahead log, so they must be in
    /// table files before they go live. Opened read-only beside the running engine, the data
    /// directory reads as a restart after a crash right after the rebuild would find it: the
    /// live generations there must hold every row the engine has.
    @Test func aRebuildIsOnDiskBeforeItGoesLive() async throws {
        try await withWorld { world in
            let chat = try await world.createChat("alice")
            for index in 0..<200 {
                let message = try await world.post("alice", chat, "message \(index) about the release")
                if index % 10 == 0 { try await world.react("alice", chat, message, "👍") }
            }
            try world.catchUp()
            let before = ProjectionCatalog.names.map { world.engine.store.generation(of: $0) }
            _ = try Rebuilder(log: world.engine.log, store: world.engine.store).rebuild()
            #expect(ProjectionCatalog.names.map { world.engine.store.generation(of: $0) } == before.map { $0 + 1 })

            let image = try ProjectionStore.openDatabase(path: world.directory.appending("data"), options: DatabaseOptions(readOnly: true))
            defer { image.close() }
            let restarted = try ProjectionStore(database: image)
            func rows(_ database: Database, _ family: ColumnFamily) throws -> [[UInt8]] {
                let iterator = database.makeIterator(over: family)
                var rows: [[UInt8]] = []
                iterator.seekToFirst()
                while iterator.isValid {
                    rows.append(iterator.key + [0xFF] + iterator.value)
                    iterator.next()
                }
                try iterator.checkError()
                return rows
            }
            for name in ProjectionCatalog.names {
                #expect(restarted.generation(of: name) == world.engine.store.generation(of: name), "\(name)")
                let live = try rows(world.engine.database, world.engine.store.family(of: name))
                #expect(live.count > 1, "\(name) has no rows")
                #expect(try rows(image, restarted.family(of: name)) == live, "\(name): the rebuilt rows are not all on disk")
            }
        }
    }

    /// A projector that stops ends its listeners' streams. Ending one runs its termination
    /// handler at once, which forgets the listener under the projector's lock: ended while
    /// holding that lock, a listener not being read at that moment crashed the process.
    @Test func aStoppingProjectorEndsItsListenersStreams() async throws {
        try await withWorld { world in
            let projector = world.engine.projector
            let stream = projector.subscribe()
            let running = Task { try await projector.run() }
            running.cancel()
            _ = try? await running.value
            var iterator = stream.makeAsyncIterator()
            #expect(await iterator.next() == nil, "the stream should have ended")
        }
    }

    /// A projector that stops on an error (here a record no codec reads) still lets go of
    /// whoever waits on its position or listens, instead of leaving them waiting forever.
    @Test(.timeLimit(.minutes(1))) func aProjectorFailingLetsGoOfWaitersAndListeners() async throws {
        try await withWorld { world in
            let projector = world.engine.projector
            let stream = projector.subscribe()
            _ = try await world.engine.log.append([0xFF, 0xFF, 0xFF])
            await #expect(throws: (any Error).self) { try await projector.run() }
            #expect(projector.applied.isClosed)
            var iterator = stream.makeAsyncIterator()
            #expect(await iterator.next() == nil, "the stream should have ended")
        }
    }
}
