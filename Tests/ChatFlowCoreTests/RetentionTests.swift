@testable import ChatFlowCore
import ChatFlowStorage
import ChatFlowTestSupport
import Logging
import Synchronization
import Testing

/// Retention with a short window and the test clock: history before the horizon leaves the
/// log and every projection, chats and memberships stay, and the projections still equal
/// a rebuild from the shortened log.
@Suite struct RetentionTests {
    private func retention(_ world: TestWorld, days: Int, maxEventsPerPass: Int = 20_000) -> Retention {
        Retention(days: days, log: world.engine.log, store: world.engine.store, projector: world.engine.projector,
                  maxEventsPerPass: maxEventsPerPass)
    }

    private func timeline(_ world: TestWorld, _ chat: ChatID) throws -> [String] {
        try world.reader.messages(in: chat, cursor: nil, limit: 1000, direction: .newer).items.map(\.content)
    }

    private func search(_ world: TestWorld, _ chat: ChatID, _ text: String) throws -> [String] {
        try world.reader.search(in: chat, query: SearchQuery.parse(text), cursor: nil, limit: 100).items.map(\.content)
    }

    private func unread(_ world: TestWorld, _ user: String, _ chat: ChatID) throws -> Int {
        try world.reader.readMarker(UserID(unchecked: user), chat).unread
    }

    private func kinds(_ world: TestWorld) throws -> [EventKind] {
        try world.engine.log.read(after: nil, limit: .max).map { try EventCodec.decode($0.payload).event.kind }
    }

    @Test func historyBeforeTheHorizonLeavesTheLogAndEveryProjection() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            // Day 0: a chat, members, old messages with reactions, edits and read markers.
            let chat = try await world.createChat("alice")
            try await world.join("bob", chat)
            try await world.join("carol", chat)
            let old1 = try await world.post("alice", chat, "ancient walrus one")
            let old2 = try await world.post("bob", chat, "ancient walrus two")
            let old3 = try await world.post("bob", chat, "ancient three")
            try await world.react("carol", chat, old1, "👍")
            try await world.edit("bob", chat, old2, "ancient walrus two edited")
            try await world.markRead("carol", chat, old2)
            try await world.leave("carol", chat)

            // Day 10: new history, some of it touching the old messages.
            clock.set(TestTime.jan1 + 10 * TestTime.day)
            try await world.join("dave", chat)
            let new1 = try await world.post("alice", chat, "fresh walrus one")
            try await world.react("bob", chat, old1, "🎉")          // a reaction to an old message
            try await world.edit("bob", chat, old3, "ancient three edited late")
            let new2 = try await world.post("bob", chat, "fresh two")
            try await world.markRead("bob", chat, old3)             // a marker on an old message, moved back past his post
            try await world.react("alice", chat, new2, "👍")
            try await world.markRead("alice", chat, new1)
            try await world.markRead("alice", chat, old2)           // back to an old message
            try world.catchUp()
            #expect(try unread(world, "alice", chat) == 2)  // old3, new2
            let eventsBefore = try kinds(world).count

            // Day 12 with five days kept: the horizon is day 7.
            let report = try retention(world, days: 5).run(now: TestTime.jan1 + 12 * TestTime.day)
            #expect(report.outcome == .pruned)
            #expect(report.horizonMilliseconds == TestTime.jan1 + 7 * TestTime.day)

            #expect(try timeline(world, chat) == ["fresh walrus one", "fresh two"])
            #expect(try search(world, chat, "walrus") == ["fresh walrus one"])
            #expect(try search(world, chat, "ancient") == [])
            #expect(try world.reader.reactionCounts(old1) == [:])
            #expect(try world.reader.reactionCounts(new2) == ["👍": 1])
            #expect(try world.reader.messages(by: UserID(unchecked: "bob"), cursor: nil, limit: 100).items.map(\.content) == ["fresh two"])
            #expect(try world.reader.message(old1) == nil)
            // Old messages no longer count as unread; new ones by others still do.
            #expect(try unread(world, "alice", chat) == 1)  // new2
            #expect(try unread(world, "bob", chat) == 1)    // new1
            #expect(try unread(world, "dave", chat) == 2)   // joined after the horizon: new1, new2
            // Chats and memberships stay, whatever their age.
            #expect(try world.reader.chat(chat) != nil)
            #expect(try Set(world.reader.memberJoinTimes(of: chat).keys.map(\.rawValue)) == ["alice", "bob", "dave"])

            // The log kept the chat and the memberships from before the horizon, and
            // everything after it.
            let kept = try kinds(world)
            #expect(kept.prefix(5) == [.chatCreated, .memberJoined, .memberJoined, .memberLeft, .memberJoined])
            #expect(kept.count == eventsBefore - report.eventsRemoved)
            #expect(report.eventsRemoved == 6)

            try world.expectVerified()

            // A second pass at the same time finds nothing to do; later writes carry on.
            #expect(try retention(world, days: 5).run(now: TestTime.jan1 + 12 * TestTime.day).outcome == .upToDate)
            let new3 = try await world.post("dave", chat, "fresh walrus three")
            try await world.markRead("alice", chat, new3)
            try world.catchUp()
            #expect(try search(world, chat, "walrus") == ["fresh walrus three", "fresh walrus one"])
            #expect(try unread(world, "bob", chat) == 2)  // new1, new3
            try world.expectVerified()

            // After a restart the projections are still those of the shortened log.
            try world.reopen()
            try world.catchUp()
            try world.expectVerified()
            #expect(try timeline(world, chat) == ["fresh walrus one", "fresh two", "fresh walrus three"])
        }
    }

    /// A projection the next version starts afresh (or one the data directory never had)
    /// fills from a log that retention shortened: what it shows is what a rebuild shows,
    /// counters seeded from the removed part and rows of removed messages pruned.
    @Test func projectionsStartedAfreshAfterRetentionMatchARebuild() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            try await world.join("bob", chat)
            let old = try await world.post("alice", chat, "ancient walrus")
            _ = try await world.post("alice", chat, "ancient two")
            try await world.markRead("bob", chat, old)
            clock.set(TestTime.jan1 + 10 * TestTime.day)
            let new = try await world.post("alice", chat, "fresh walrus")
            try await world.react("bob", chat, old, "🎉")  // logged after the horizon, to a message before it
            try await world.join("carol", chat)
            try world.catchUp()
            #expect(try retention(world, days: 5).run(now: TestTime.jan1 + 12 * TestTime.day).outcome == .pruned)
            let answers = { () throws -> [String] in
                [try timeline(world, chat).joined(separator: "|"), try search(world, chat, "walrus").joined(separator: "|"),
                 "\(try unread(world, "bob", chat)) \(try unread(world, "carol", chat))",
                 "\(try world.reader.reactionCounts(old)) \(try world.reader.reactionCounts(new))"]
            }
            let before = try answers()
            #expect(before == ["fresh walrus", "fresh walrus", "1 0", "[:] [:]"])

            // As if every projection's code had a new version: their stored ones differ.
            let generations = try world.engine.database.family(ProjectionCatalog.generationsFamily)
            let batch = WriteBatch()
            for name in ProjectionCatalog.names {
                batch.put(Array(name.utf8), KeyWriter.build { $0.uint32(world.engine.store.generation(of: name)); $0.uint32(999) }, in: generations)
            }
            try world.engine.database.write(batch, sync: true)
            try world.reopen()
            #expect(world.engine.store.restarted.map(\.name) == ProjectionCatalog.names)
            #expect(world.engine.rebuiltAtOpening == ProjectionCatalog.names)
            try world.catchUp()
            #expect(try answers() == before)
            try world.expectVerified()

            // As a start whose rebuild was cut short leaves one: a live generation that has
            // applied nothing. The next start rebuilds it.
            let next = try world.engine.store.makeNextGeneration(of: ReadStateProjection.name)
            try world.engine.store.activate(ReadStateProjection.name, generation: next.generation, family: next.family)
            try world.reopen()
            #expect(world.engine.rebuiltAtOpening == [ReadStateProjection.name])
            try world.catchUp()
            #expect(try answers() == before)
            try world.expectVerified()
        }
    }

    /// A reaction checked before a pass and applied after it removed the message (the
    /// command's window, reproduced here by appending it straight to the log) is not kept.
    @Test func aReactionAppliedAfterItsMessageWasRemovedIsNotKept() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            let old = try await world.post("alice", chat, "ancient")
            clock.set(TestTime.jan1 + 10 * TestTime.day)
            let new = try await world.post("alice", chat, "fresh")
            try world.catchUp()
            #expect(try retention(world, days: 5).run(now: TestTime.jan1 + 12 * TestTime.day).outcome == .pruned)
            try await world.react("alice", chat, old, "👍")
            try await world.react("alice", chat, new, "👍")
            try world.catchUp()
            #expect(try world.reader.reactionCounts(old) == [:])
            #expect(try world.reader.reactionCounts(new) == ["👍": 1])
            try world.expectVerified()
        }
    }

    @Test func aSecondHorizonRemovesTheNextSliceAndARebuildMatchesIt() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            try await world.join("bob", chat)
            var posted: [(day: UInt64, id: MessageID)] = []
            for day in 0..<6 as Range<UInt64> {
                clock.set(TestTime.jan1 + day * TestTime.day)
                posted.append((day, try await world.post(day % 2 == 0 ? "alice" : "bob", chat, "day \(day) walrus")))
            }
            // Back past his later posts, which moved it.
            try await world.markRead("bob", chat, posted[1].id)
            try world.catchUp()

            // Keep one day: at day 3 the horizon is day 2, then at day 5 it is day 4.
            #expect(try retention(world, days: 1).run(now: TestTime.jan1 + 3 * TestTime.day).outcome == .pruned)
            #expect(try timeline(world, chat) == ["day 2 walrus", "day 3 walrus", "day 4 walrus", "day 5 walrus"])
            try world.expectVerified()
            #expect(try retention(world, days: 1).run(now: TestTime.jan1 + 5 * TestTime.day).outcome == .pruned)
            #expect(try timeline(world, chat) == ["day 4 walrus", "day 5 walrus"])
            #expect(try unread(world, "bob", chat) == 1)    // day 4 by alice
            #expect(try unread(world, "alice", chat) == 1)  // day 5 by bob
            try world.expectVerified()

            // A full rebuild from the shortened log gives the same answers.
            _ = try Rebuilder(log: world.engine.log, store: world.engine.store).rebuild()
            #expect(try timeline(world, chat) == ["day 4 walrus", "day 5 walrus"])
            #expect(try unread(world, "bob", chat) == 1)
            #expect(try search(world, chat, "walrus") == ["day 5 walrus", "day 4 walrus"])
        }
    }

    @Test func aLongHistoryGoesInShortPassesThatEndWhereOnePassWould() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            try await world.join("bob", chat)
            var old: [MessageID] = []
            for day in 0..<4 as Range<UInt64> {
                clock.set(TestTime.jan1 + day * TestTime.day)
                for n in 0..<3 {
                    old.append(try await world.post(n % 2 == 0 ? "alice" : "bob", chat, "day \(day) walrus \(n)"))
                }
                try await world.react("bob", chat, old[old.count - 1], "👍")
            }
            try await world.markRead("bob", chat, old[5])
            try await world.join("carol", chat)  // a membership among the history: it stays
            clock.set(TestTime.jan1 + 5 * TestTime.day)
            let fresh = try await world.post("alice", chat, "day 5 walrus")
            try await world.react("bob", chat, old[0], "🎉")  // a reaction to a message that goes
            try world.catchUp()
            let historyBefore = try kinds(world).count - 3  // all but the chat and the two joins

            // Keep one day with at most 4 events a pass: the 20 events before the horizon
            // (17 of them history) take 5 passes.
            var passes: [Retention.Report] = []
            repeat {
                passes.append(try retention(world, days: 1, maxEventsPerPass: 4).run(now: TestTime.jan1 + 5 * TestTime.day))
                try world.expectVerified()
            } while passes.last?.more == true && passes.count < 20
            #expect(passes.allSatisfy { $0.outcome == .pruned && $0.eventsRemoved <= 4 }, "\(passes)")
            #expect(passes.count == 5, "\(passes)")
            #expect(passes.map(\.eventsRemoved).reduce(0, +) == historyBefore - 2)  // the fresh post and its reaction stay
            #expect(passes.last?.horizonMilliseconds == TestTime.jan1 + 4 * TestTime.day)

            #expect(try timeline(world, chat) == ["day 5 walrus"])
            #expect(try search(world, chat, "walrus") == ["day 5 walrus"])
            #expect(try world.reader.reactionCounts(old[0]) == [:])
            #expect(try unread(world, "bob", chat) == 1)
            #expect(try kinds(world) == [.chatCreated, .memberJoined, .memberJoined, .messagePosted, .reactionAdded])
            #expect(try retention(world, days: 1, maxEventsPerPass: 4).run(now: TestTime.jan1 + 5 * TestTime.day).outcome == .upToDate)

            // A rebuild from the shortened log gives the same answers.
            _ = try Rebuilder(log: world.engine.log, store: world.engine.store).rebuild()
            try world.expectVerified()
            #expect(try timeline(world, chat) == ["day 5 walrus"])
            #expect(try world.reader.message(fresh)?.content == "day 5 walrus")
        }
    }

    /// A horizon inside a block of counts: the pass takes the removed messages (and the
    /// removed deleted ones) out of their blocks, so markers count the rest exactly and a
    /// rebuild matches.
    @Test func aHorizonInsideABlockLeavesCountsExact() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            try await world.join("bob", chat)
            var messages: [(id: MessageID, author: String, deleted: Bool)] = []
            // 700 messages on day 0 (sequence numbers 1-700) and 700 on day 2: the horizon
            // at day 1 falls inside the second block (512-1,023).
            for day in [0, 2] as [UInt64] {
                clock.set(TestTime.jan1 + day * TestTime.day)
                for n in 0..<700 {
                    let author = n % 3 == 0 ? "alice" : "bob"
                    messages.append((try await world.post(author, chat, "day \(day) m\(n)"), author, false))
                }
            }
            // Every 5th message is deleted, on both sides of the horizon.
            for n in messages.indices where n % 5 == 0 {
                try await world.delete(messages[n].author, chat, messages[n].id)
                messages[n].deleted = true
            }
            func unreadFor(_ user: String, after n: Int) -> Int {
                messages[(n + 1)...].filter { $0.author != user && !$0.deleted }.count
            }
            try await world.markRead("alice", chat, messages[100].id)
            try world.catchUp()
            #expect(try retention(world, days: 1).run(now: TestTime.jan1 + 2 * TestTime.day).outcome == .pruned)
            try world.expectVerified()
            #expect(try unread(world, "alice", chat) == unreadFor("alice", after: 699))

            // A marker moved to a removed message (as a rebuild replays one made before the
            // pass) reads up to the horizon.
            try await world.markRead("bob", chat, messages[300].id)
            try world.catchUp()
            #expect(try unread(world, "bob", chat) == unreadFor("bob", after: 699))
            for n in [700, 1_022, 1_023, 800, 1_399, 701] {
                try await world.markRead("alice", chat, messages[n].id)
                try world.catchUp()
                #expect(try unread(world, "alice", chat) == unreadFor("alice", after: n), "at \(n)")
            }
            try world.expectVerified()

            _ = try Rebuilder(log: world.engine.log, store: world.engine.store).rebuild()
            try world.expectVerified()
            #expect(try unread(world, "alice", chat) == unreadFor("alice", after: 701))
            #expect(try unread(world, "bob", chat) == unreadFor("bob", after: 699))
        }
    }

    @Test func theServiceRunsPassesUntilTheHorizonIsReached() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            for n in 0..<10 { try await world.post("alice", chat, "old walrus \(n)") }
            clock.set(TestTime.jan1 + 5 * TestTime.day)
            try await world.post("alice", chat, "fresh walrus")
            try world.catchUp()

            // Three events a pass: the ten old posts take four passes, all in one run.
            let observed = Mutex<[Int]>([])
            let service = RetentionService(
                retention: retention(world, days: 1, maxEventsPerPass: 3), interval: .seconds(3600), firstDelay: .zero,
                clock: { TestTime.jan1 + 5 * TestTime.day }, logger: Logger(label: "retention-test"),
                observe: { result in observed.withLock { $0.append((try? result.get()) ?? -1) } })
            let running = Task { try await service.run() }
            let deadline = ContinuousClock.now + .seconds(30)
            while try kinds(world) != [.chatCreated, .messagePosted], ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            running.cancel()
            _ = try? await running.value
            #expect(try kinds(world) == [.chatCreated, .messagePosted])
            #expect(try timeline(world, chat) == ["fresh walrus"])
            // Its observer (the server's metrics) hears of every step, and of no failure.
            let steps = observed.withLock { $0 }
            #expect(steps.count == 4 && steps.reduce(0, +) == 10 && steps.allSatisfy { $0 > 0 }, "\(steps)")
            try world.expectVerified()
        }
    }

    /// A pass that meets the projections behind (a start catching up on a long log) goes on
    /// once they have caught up, not an interval later.
    @Test func aPassThatFindsTheProjectorBehindGoesOnSoon() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            for n in 0..<4 { try await world.post("alice", chat, "old walrus \(n)") }
            clock.set(TestTime.jan1 + 5 * TestTime.day)
            try await world.post("alice", chat, "fresh walrus")
            // Not caught up: the projector has applied nothing.
            let observed = Mutex<[Int]>([])
            let service = RetentionService(
                retention: retention(world, days: 1), interval: .seconds(3600), firstDelay: .zero, behindDelay: .milliseconds(20),
                clock: { TestTime.jan1 + 5 * TestTime.day }, logger: Logger(label: "retention-test"),
                observe: { result in observed.withLock { $0.append((try? result.get()) ?? -1) } })
            let running = Task { try await service.run() }
            #expect(await eventually { observed.withLock { !$0.isEmpty } })
            try world.catchUp()
            let done = try await eventually(timeout: .seconds(20)) { try kinds(world) == [.chatCreated, .messagePosted] }
            running.cancel()
            _ = try? await running.value
            #expect(done, "the pass should have gone on once the projections caught up: \(observed.withLock { $0 })")
            #expect(try timeline(world, chat) == ["fresh walrus"])
        }
    }

    /// Also with retention turned off since (days 0): the interrupted pass is finished, and
    /// nothing more is removed.
    @Test(arguments: [false, true])
    func aPassInterruptedBeforeTheLogIsShortenedIsFinishedFirst(retentionTurnedOff: Bool) async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            var old: [MessageID] = []
            for n in 0..<10 { old.append(try await world.post("alice", chat, "old walrus \(n)")) }
            clock.set(TestTime.jan1 + 5 * TestTime.day)
            try await world.post("alice", chat, "fresh walrus")
            try world.catchUp()

            // A pass that stopped after pruning the projections at the fifth old message, as
            // a crash there would leave it: the horizon is recorded, the log still whole.
            let interrupted = old[4].ulid
            let database = world.engine.store.database
            let record = WriteBatch()
            try RetentionState(horizon: interrupted, logHorizon: nil).write(into: record, database: database)
            try database.write(record, sync: true)
            for projection in ProjectionCatalog.all {
                let batch = WriteBatch()
                try projection.prune(PruneContext(
                    horizon: interrupted, database: database, family: world.engine.store.family(of: projection.name), batch: batch))
                try database.write(batch, sync: false)
            }

            if retentionTurnedOff {
                let finished = try retention(world, days: 0).run(now: TestTime.jan1 + 5 * TestTime.day)
                #expect(finished.outcome == .pruned && !finished.more && finished.eventsRemoved == 4, "\(finished)")
                #expect(try kinds(world).count == 1 + 6 + 1)
                try world.expectVerified()
                let next = try retention(world, days: 0).run(now: TestTime.jan1 + 50 * TestTime.day)
                #expect(next.outcome == .upToDate && next.eventsRemoved == 0)
                #expect(try kinds(world).count == 1 + 6 + 1)
                return
            }
            // The next pass finishes that horizon before going further.
            let first = try retention(world, days: 1, maxEventsPerPass: 3).run(now: TestTime.jan1 + 5 * TestTime.day)
            #expect(first.outcome == .pruned && first.more, "\(first)")
            #expect(first.eventsRemoved == 4)  // the four posts before the interrupted horizon
            #expect(try kinds(world).count == 1 + 6 + 1)
            try world.expectVerified()

            var passes = 1
            while try retention(world, days: 1, maxEventsPerPass: 3).run(now: TestTime.jan1 + 5 * TestTime.day).more, passes < 20 {
                passes += 1
                try world.expectVerified()
            }
            #expect(try kinds(world) == [.chatCreated, .messagePosted])
            #expect(try timeline(world, chat) == ["fresh walrus"])
            try world.expectVerified()
        }
    }

    @Test func aPassWaitsForTheProjectorToPassTheHorizon() async throws {
        let clock = TestClock()
        try await withWorld(clock: clock) { world in
            let chat = try await world.createChat("alice")
            try await world.post("alice", chat, "not yet projected")
            // Nothing is projected yet: pruning now would lose events the projector never saw.
            let report = try retention(world, days: 1).run(now: TestTime.jan1 + 5 * TestTime.day)
            #expect(report.outcome == .projectorBehind)
            #expect(try kinds(world) == [.chatCreated, .messagePosted])
            try world.catchUp()
            #expect(try retention(world, days: 1).run(now: TestTime.jan1 + 5 * TestTime.day).outcome == .pruned)
            #expect(try kinds(world) == [.chatCreated])
            try world.expectVerified()
        }
    }

}
