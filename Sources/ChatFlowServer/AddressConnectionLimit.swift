import Logging
import NIOCore
import Synchronization

/// How many HTTP connections (all but WebSockets) one client address may hold open. One
/// client could otherwise take every place under `ConnectionLimit`: connections that send
/// nothing, or one request each and then nothing, are held until the idle time runs out,
/// and opening a few hundred a second kept the server full. Browsers hold a handful per
/// server, a proxy's pool a few dozen; WebSockets are bounded per user instead
/// (`CHATFLOW_WS_PER_USER`), as they need a token.
final class AddressConnectionLimit: Sendable {
    /// Per address; 0: no bound.
    let maximum: Int
    private let open = Mutex<[String: Int]>([:])
    private let warnings = LogThrottle()

    init(maximum: Int) {
        self.maximum = maximum
    }

    /// A place for `channel` until `Place.release()` (it became a WebSocket, or closed); nil
    /// when its address has none left.
    func admit(_ channel: any Channel, logger: Logger) -> Place? {
        guard maximum > 0 else { return Place(nil, of: self) }
        let address = Self.client(of: channel.remoteAddress)
        let admitted = open.withLock { counts in
            guard counts[address, default: 0] < maximum else { return false }
            counts[address, default: 0] += 1
            return true
        }
        guard admitted else {
            warn(address, logger)
            return nil
        }
        return Place(address, of: self)
    }

    /// Whom a connection counts against: its IPv4 address, or its IPv6 address's /64 (a
    /// host may use any address of its /64, so one client could otherwise hold the bound
    /// many times over; the hosts of one network sharing a /64 then share it, as hosts
    /// behind one IPv4 NAT do). Connections without an IP address (a Unix socket) share one.
    static func client(of address: SocketAddress?) -> String {
        guard case .v6(let v6)? = address else { return address?.ipAddress ?? "" }
        let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        // An IPv4 client seen through a dual-stack socket (::ffff:a.b.c.d) is its own.
        let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
        if mapped { return bytes[12...].map(String.init).joined(separator: ".") }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }

    fileprivate func leave(_ address: String) {
        open.withLock { counts in
            let left = counts[address, default: 1] - 1
            counts[address] = left > 0 ? left : nil
        }
    }

    /// What a connection over the bound is told before it is closed.
    var refusal: String {
        ProblemDetail(.tooManyRequests, "your address holds as many HTTP connections as one may (\(maximum)); reuse them, or retry in a moment")
            .closingAnswer(retryAfterSeconds: 5)
    }

    private func warn(_ address: String, _ logger: Logger) {
        if warnings.allows() {
            logger.warning("refusing connections from \(address): it holds \(maximum) HTTP connections (CHATFLOW_HTTP_PER_ADDRESS)")
        }
    }

    /// One connection's place, given back once, whichever comes first: its upgrade to a
    /// WebSocket or its close.
    final class Place: Sendable {
        private let address: String?
        private let owner: AddressConnectionLimit
        private let released = Atomic<Bool>(false)

        fileprivate init(_ address: String?, of owner: AddressConnectionLimit) {
            self.address = address
            self.owner = owner
        }

        func release() {
            guard let address, !released.exchange(true, ordering: .relaxed) else { return }
            owner.leave(address)
        }
    }
}
