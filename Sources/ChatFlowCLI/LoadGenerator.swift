import ChatFlowServer
import Foundation
import NIOCore
import NIOPosix

/// Runs an end-to-end load test against a live server: mints the users' tokens, creates the
/// chats and memberships over HTTP, opens the subscribers' WebSocket connections, posts open
/// loop at the target rate, waits for the last deliveries and reports.
struct LoadGenerator {
    struct Settings: Sendable {
        var url: String
        var target: LoadTarget
        var signer: TokenVerifier
        var users: Int
        var chats: Int
        var members: Int
        var connections: Int
        var httpConnections: Int
        var rate: Double
        var duration: Double
        var contentBytes: Int
        /// Loopback source addresses for the WebSocket connections; nil chooses by count.
        var sourceAddresses: Int?
        /// The longest wait, after the last post was answered, for deliveries still due.
        var drainSeconds: Double
    }

    let settings: Settings
    /// Receives a line about each phase and, once a second while posting, the figures so far.
    let progress: @Sendable (String) -> Void

    /// WebSocket connections being opened at once.
    private static let openWindow = 128
    /// How long after its due time a post may still be waiting for its response.
    private static let answerTimeout: Duration = .seconds(30)

    var messageCount: Int { max(1, Int((settings.rate * settings.duration).rounded())) }

    func run() async throws -> LoadReport {
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        do {
            let report = try await run(on: loops)
            try? await loops.shutdownGracefully()
            return report
        } catch {
            try? await loops.shutdownGracefully()
            throw error
        }
    }

    private func run(on loops: MultiThreadedEventLoopGroup) async throws -> LoadReport {
        let runID = String(UInt32.random(in: .min ... .max), radix: 16)
        let tag = LoadMessageTag(run: runID)
        let plan = LoadPlan(run: runID, users: settings.users, chats: settings.chats, members: settings.members, connections: settings.connections)

        progress("minting \(plan.users.count) tokens (run \(runID))")
        let bearers = try await mintTokens(for: plan.users)

        let http = LoadHTTPClient(target: settings.target, connections: settings.httpConnections, group: loops)
        do {
            try await http.start()
        } catch {
            await http.shutdown()
            throw LoadError("could not connect to \(settings.url): \(error)")
        }
        var sockets: [LoadWebSocket] = []
        do {
            progress("creating \(plan.chatCount) chats of \(settings.members) members")
            let chatIDs = try await createChats(plan, run: runID, bearers: bearers, http: http)

            let eventLoops = Array(loops.makeIterator())
            let ledgers = eventLoops.map { _ in DeliveryLedger() }
            let sourceCount = settings.target.sourceAddressCount(connections: settings.connections, requested: settings.sourceAddresses)
            progress("opening \(settings.connections) WebSocket connections" + (sourceCount > 1 ? " from \(sourceCount) loopback addresses" : ""))
            // The server's memory with its data written, then with every connection open and
            // subscribed: the difference is what the connections cost it.
            let residentBefore = await serverResidentBytes(http)
            sockets = try await openSockets(plan, chatIDs: chatIDs, bearers: bearers, tag: tag, sourceCount: sourceCount, eventLoops: eventLoops, ledgers: ledgers)
            let residentWith = await serverResidentBytes(http)
            let perConnection = residentBefore.flatMap { before in
                residentWith.map { Double($0 - before) / 1024 / Double(settings.connections) }
            }
            if let residentBefore, let residentWith, let perConnection {
                progress(String(format: "server resident memory %.1f MiB before the connections, %.1f MiB with them: %.1f KiB each",
                                Double(residentBefore) / 1_048_576, Double(residentWith) / 1_048_576, perConnection))
            }

            let schedule = LoadSchedule(start: .now + .milliseconds(100), rate: settings.rate, count: messageCount)
            for ledger in ledgers { ledger.begin(schedule) }
            let posts = PostLedger(schedule: schedule)
            progress("posting \(schedule.count) messages at \(settings.rate)/s for \(settings.duration) s")
            let reporter = Task { await reportProgress(posts: posts, ledgers: ledgers, http: http) }
            // The server's CPU time over the posting: what each post cost it, deliveries included.
            let cpuBefore = await serverMetric("process_cpu_seconds_total", http)
            await post(schedule: schedule, plan: plan, chatIDs: chatIDs, bearers: bearers, tag: tag, http: http, ledger: posts)

            let answerDeadline = schedule.end + Self.answerTimeout
            while posts.answered < schedule.count && ContinuousClock.now < answerDeadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
            reporter.cancel()
            let drained = try await drain(posts: posts, plan: plan, ledgers: ledgers)
            await reporter.value
            let cpuAfter = await serverMetric("process_cpu_seconds_total", http)
            let busySeconds = (ContinuousClock.now - schedule.start).seconds

            for socket in sockets { await socket.close() }
            sockets = []
            await http.shutdown()
            var result = report(schedule: schedule, posts: posts, ledgers: ledgers, plan: plan, sourceCount: sourceCount, drainSeconds: drained)
            result.serverResidentBeforeConnectionsMiB = residentBefore.map { Double($0) / 1_048_576 }
            result.serverResidentWithConnectionsMiB = residentWith.map { Double($0) / 1_048_576 }
            result.residentPerConnectionKiB = perConnection
            if let cpuBefore, let cpuAfter, posts.answered > 0, busySeconds > 0 {
                result.serverCores = (cpuAfter - cpuBefore) / busySeconds
                result.serverCPUMicrosecondsPerPost = (cpuAfter - cpuBefore) * 1e6 / Double(posts.answered)
            }
            return result
        } catch {
            for socket in sockets { await socket.close() }
            await http.shutdown()
            throw error
        }
    }

    // MARK: - Setup

    private func mintTokens(for users: [String]) async throws -> [String] {
        let signer = settings.signer
        // Long enough that no WebSocket connection is closed for an expired token mid-run.
        let ttl = settings.duration + 3600
        var bearers: [String] = []
        bearers.reserveCapacity(users.count)
        for user in users {
            bearers.append("Bearer " + (try await signer.sign(user: user, ttl: ttl)))
        }
        return bearers
    }

    /// Creates each chat as its owner, then has the owner add the other members.
    private func createChats(_ plan: LoadPlan, run: String, bearers: [String], http: LoadHTTPClient) async throws -> [String] {
        let ids = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for chat in 0..<plan.chatCount {
                group.addTask {
                    let body = #"{"name":"loadtest \#(run) \#(chat)","isPrivate":false}"#
                    let response = try await http.send(.init(method: .POST, path: "/chats", authorization: bearers[plan.members[chat][0]], body: ByteBuffer(string: body)))
                    guard response.status == 201,
                        let object = try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any],
                        let id = object["id"] as? String
                    else {
                        throw LoadError("creating a chat failed: HTTP \(response.status) \(response.text)")
                    }
                    return (chat, id)
                }
            }
            var ids = [String](repeating: "", count: plan.chatCount)
            for try await (chat, id) in group { ids[chat] = id }
            return ids
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (chat, members) in plan.members.enumerated() {
                for member in members.dropFirst() {
                    group.addTask {
                        let body = #"{"userId":"\#(plan.users[member])"}"#
                        let response = try await http.send(.init(method: .POST, path: "/chats/\(ids[chat])/members", authorization: bearers[members[0]], body: ByteBuffer(string: body)))
                        guard (200..<300).contains(response.status) else {
                            throw LoadError("adding a member failed: HTTP \(response.status) \(response.text)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        return ids
    }

    /// Opens the WebSocket connections, a window of them at a time; connection `k` runs on
    /// event loop `k mod loops` and records into that loop's ledger.
    private func openSockets(
        _ plan: LoadPlan, chatIDs: [String], bearers: [String], tag: LoadMessageTag, sourceCount: Int,
        eventLoops: [any EventLoop], ledgers: [DeliveryLedger]
    ) async throws -> [LoadWebSocket] {
        let target = settings.target
        let address = try target.address(spreading: sourceCount > 1)
        let total = settings.connections
        @Sendable func open(_ k: Int) async throws -> LoadWebSocket {
            let user = plan.userOfConnection[k]
            return try await LoadWebSocket.open(
                to: address, target: target,
                from: try target.sourceAddress(forConnection: k, connections: total, count: sourceCount),
                authorization: bearers[user], subscribing: plan.chatsOfUser[user].map { "chats/\(chatIDs[$0])" },
                tag: tag, ledger: ledgers[k % ledgers.count], on: eventLoops[k % eventLoops.count])
        }
        return try await withThrowingTaskGroup(of: LoadWebSocket.self) { group in
            var opened: [LoadWebSocket] = []
            opened.reserveCapacity(total)
            var next = 0
            while next < min(Self.openWindow, total) {
                let k = next
                group.addTask { try await open(k) }
                next += 1
            }
            do {
                while let socket = try await group.next() {
                    opened.append(socket)
                    if next < total {
                        let k = next
                        group.addTask { try await open(k) }
                        next += 1
                    }
                    if opened.count % 2000 == 0 && opened.count < total { progress("  \(opened.count) of \(total) connected") }
                }
            } catch {
                group.cancelAll()
                while let socket = try? await group.next() { opened.append(socket) }
                for socket in opened { await socket.close() }
                throw error
            }
            return opened
        }
    }

    // MARK: - Load

    /// Sends each post at its due time, whatever became of the earlier ones.
    private func post(
        schedule: LoadSchedule, plan: LoadPlan, chatIDs: [String], bearers: [String], tag: LoadMessageTag,
        http: LoadHTTPClient, ledger: PostLedger
    ) async {
        let paths = chatIDs.map { "/chats/\($0)/messages" }
        let contentBytes = settings.contentBytes
        var sequence = 0
        while sequence < schedule.count {
            let now = ContinuousClock.now
            while sequence < schedule.count && schedule.time(of: sequence) <= now {
                let seq = sequence
                let body = #"{"content":"\#(tag.content(seq, bytes: contentBytes))","messageType":"text","clientMessageId":"lt-\#(tag.run)-\#(seq)"}"#
                ledger.sent(seq, at: now)
                http.submit(.init(method: .POST, path: paths[plan.chat(ofMessage: seq)], authorization: bearers[plan.poster(ofMessage: seq)], body: ByteBuffer(string: body))) { result in
                    ledger.answered(seq, status: (try? result.get())?.status, at: .now)
                }
                sequence += 1
            }
            if sequence < schedule.count {
                try? await Task.sleep(until: schedule.time(of: sequence), clock: .continuous)
            }
        }
    }

    /// Waits until every delivery due for the successful posts has arrived, or the drain
    /// deadline passes; the seconds it waited.
    private func drain(posts: PostLedger, plan: LoadPlan, ledgers: [DeliveryLedger]) async throws -> Double {
        let succeeded = posts.succeeded
        var expected = 0
        for (sequence, ok) in succeeded.enumerated() where ok { expected += plan.subscribers[plan.chat(ofMessage: sequence)] }
        let started = ContinuousClock.now
        let deadline = started + .milliseconds(Int64(settings.drainSeconds * 1000))
        while ledgers.reduce(0, { $0 + $1.deliveries }) < expected && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return (ContinuousClock.now - started).seconds
    }

    private func reportProgress(posts: PostLedger, ledgers: [DeliveryLedger], http: LoadHTTPClient) async {
        var tick = posts.schedule.start + .seconds(1)
        var previousPosts = 0
        var previousDeliveries = 0
        while !Task.isCancelled {
            try? await Task.sleep(until: tick, clock: .continuous)
            if Task.isCancelled { return }
            let p = posts.snapshot
            let d = Self.merge(ledgers.map(\.snapshot))
            let elapsed = (tick - posts.schedule.start).seconds
            progress(String(
                format: "%5.0f s  posts %d sent, %d ok, %d errors, %d queued, %.0f/s   deliveries %d, %.0f/s   p99 post %.1f ms, delivery %.1f ms",
                elapsed, p.sent, p.succeeded, p.errors, http.queued, Double(p.answered - previousPosts),
                d.deliveries, Double(d.deliveries - previousDeliveries),
                p.latencies.milliseconds(atPercentile: 99), d.latencies.milliseconds(atPercentile: 99)))
            previousPosts = p.answered
            previousDeliveries = d.deliveries
            tick += .seconds(1)
        }
    }

    /// The server's resident memory from its `/metrics`, if it reports it.
    private func serverResidentBytes(_ http: LoadHTTPClient) async -> Int? {
        await serverMetric("process_resident_memory_bytes", http).map { Int($0) }
    }

    /// A metric without labels from the server's `/metrics`, if it reports it.
    private func serverMetric(_ name: String, _ http: LoadHTTPClient) async -> Double? {
        guard let response = try? await http.send(.init(method: .GET, path: "/metrics")), response.status == 200 else { return nil }
        let prefix = name + " "
        guard let line = response.text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        return Double(line.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces))
    }

    // MARK: - Report

    private static func merge(_ snapshots: [DeliveryLedger.Snapshot]) -> DeliveryLedger.Snapshot {
        var all = DeliveryLedger.Snapshot()
        for snapshot in snapshots {
            all.deliveries += snapshot.deliveries
            all.latencies.add(snapshot.latencies)
            all.disconnects += snapshot.disconnects
            if let last = snapshot.lastDelivery { all.lastDelivery = max(all.lastDelivery ?? last, last) }
        }
        return all
    }

    private func report(
        schedule: LoadSchedule, posts: PostLedger, ledgers: [DeliveryLedger], plan: LoadPlan, sourceCount: Int, drainSeconds: Double
    ) -> LoadReport {
        let p = posts.snapshot
        let d = Self.merge(ledgers.map(\.snapshot))
        var counts = [UInt32](repeating: 0, count: schedule.count)
        for ledger in ledgers {
            for (sequence, count) in ledger.counts.enumerated() { counts[sequence] += count }
        }
        let succeeded = posts.succeeded
        var expected = 0
        var missing = 0
        var extra = 0
        for sequence in 0..<schedule.count {
            let due = succeeded[sequence] ? plan.subscribers[plan.chat(ofMessage: sequence)] : 0
            let got = Int(counts[sequence])
            expected += due
            missing += max(0, due - got)
            extra += max(0, got - due)
        }
        func rate(_ count: Int, until end: ContinuousClock.Instant?) -> Double {
            guard let end, end > schedule.start else { return 0 }
            return Double(count) / (end - schedule.start).seconds
        }
        return LoadReport(
            url: settings.url, users: settings.users, chats: settings.chats, membersPerChat: settings.members,
            connections: settings.connections, sourceAddresses: sourceCount, httpConnections: settings.httpConnections,
            targetRate: settings.rate, durationSeconds: settings.duration,
            messages: p.sent, posted: p.succeeded, errors: p.errors + (p.sent - p.answered),
            errorsByStatus: p.sent > p.answered ? p.errorsByStatus.merging(["unanswered": p.sent - p.answered]) { $0 + $1 } : p.errorsByStatus,
            postsPerSecond: rate(p.succeeded, until: p.lastAnswer),
            postP50Ms: p.latencies.milliseconds(atPercentile: 50), postP99Ms: p.latencies.milliseconds(atPercentile: 99),
            postP999Ms: p.latencies.milliseconds(atPercentile: 99.9), postMaxMs: p.latencies.maxMilliseconds,
            maxSendLagMs: Double(p.maxSendLagMicroseconds) / 1000,
            deliveries: d.deliveries, expectedDeliveries: expected, missingDeliveries: missing, extraDeliveries: extra,
            deliveriesPerSecond: rate(d.deliveries, until: d.lastDelivery),
            deliveryP50Ms: d.latencies.milliseconds(atPercentile: 50), deliveryP99Ms: d.latencies.milliseconds(atPercentile: 99),
            deliveryP999Ms: d.latencies.milliseconds(atPercentile: 99.9), deliveryMaxMs: d.latencies.maxMilliseconds,
            disconnects: d.disconnects, drainSeconds: drainSeconds)
    }
}
