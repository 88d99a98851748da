import Foundation

/// The figures of one load test run. Latencies are in milliseconds from each post's due time
/// (see `LoadSchedule`); rates are per second.
struct LoadReport: Encodable {
    var url: String
    var users: Int
    var chats: Int
    var membersPerChat: Int
    /// WebSocket connections, and the loopback source addresses they were spread over.
    var connections: Int
    var sourceAddresses: Int
    var httpConnections: Int
    var targetRate: Double
    var durationSeconds: Double

    /// Posts sent, those answered 2xx, and the rest (non-2xx by status, `connection` for
    /// posts whose connection failed, `unanswered` for posts still open at the deadline).
    /// The post latencies are those of the 2xx posts.
    var messages: Int
    var posted: Int
    var errors: Int
    var errorsByStatus: [String: Int]
    var postsPerSecond: Double
    var postP50Ms: Double
    var postP99Ms: Double
    var postP999Ms: Double
    var postMaxMs: Double
    /// The latest the scheduler sent a post after its due time: large values mean the load
    /// generator itself could not keep up.
    var maxSendLagMs: Double

    /// `message.created` frames received for this run's posts; expected: each 2xx post times
    /// the connections subscribed to its chat; missing: expected ones that never came (after
    /// the drain wait); extra: duplicates, or deliveries of posts that got an error.
    var deliveries: Int
    var expectedDeliveries: Int
    var missingDeliveries: Int
    var extraDeliveries: Int
    var deliveriesPerSecond: Double
    var deliveryP50Ms: Double
    var deliveryP99Ms: Double
    var deliveryP999Ms: Double
    var deliveryMaxMs: Double
    /// WebSocket connections that closed or failed while the test ran.
    var disconnects: Int
    /// How long the wait for the last deliveries took.
    var drainSeconds: Double

    /// The server's resident memory (from its `/metrics`) once the chats were set up, and
    /// again with every WebSocket connection open and subscribed; nil if it does not say.
    var serverResidentBeforeConnectionsMiB: Double?
    var serverResidentWithConnectionsMiB: Double?
    var residentPerConnectionKiB: Double?
    /// The server's CPU time (from its `/metrics`) from the first post until the last
    /// delivery: as cores busy, and per post answered (its deliveries included).
    var serverCores: Double?
    var serverCPUMicrosecondsPerPost: Double?

    var failed: Bool { errors > 0 || missingDeliveries > 0 || disconnects > 0 }

    func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func table() -> String {
        func f(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }
        let errorDetail = errorsByStatus.isEmpty ? "" : "  (" + errorsByStatus.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + ")"
        return """
        load test of \(url): \(users) users, \(chats) chats of \(membersPerChat), \(connections) WebSocket connections\(sourceAddresses > 1 ? " from \(sourceAddresses) source addresses" : ""), \(httpConnections) HTTP connections
          target         \(f(targetRate, 0)) posts/s for \(f(durationSeconds, 1)) s
          posts          \(messages) sent, \(posted) ok, \(errors) errors\(errorDetail)
          post rate      \(f(postsPerSecond, 1))/s   (max send lag \(f(maxSendLagMs)) ms)
          post latency   p50 \(f(postP50Ms)) ms   p99 \(f(postP99Ms)) ms   p99.9 \(f(postP999Ms)) ms   max \(f(postMaxMs)) ms
          deliveries     \(deliveries) of \(expectedDeliveries) expected, \(missingDeliveries) missing, \(extraDeliveries) extra, \(disconnects) disconnects
          delivery rate  \(f(deliveriesPerSecond, 1))/s   (drained in \(f(drainSeconds)) s)
          delivery       p50 \(f(deliveryP50Ms)) ms   p99 \(f(deliveryP99Ms)) ms   p99.9 \(f(deliveryP999Ms)) ms   max \(f(deliveryMaxMs)) ms
        """ + cpu + memory
    }

    private var cpu: String {
        guard let serverCores, let serverCPUMicrosecondsPerPost else { return "" }
        return String(format: "\n  server CPU     %.2f cores while posting: %.0f µs per post, its deliveries included", serverCores, serverCPUMicrosecondsPerPost)
    }

    private var memory: String {
        guard let before = serverResidentBeforeConnectionsMiB, let with = serverResidentWithConnectionsMiB,
              let each = residentPerConnectionKiB else { return "" }
        return String(format: "\n  server memory  %.1f MiB resident before the connections, %.1f MiB with them: %.1f KiB per connection", before, with, each)
    }
}
