import Foundation
import NIOCore

/// The server under load: where to connect, and which local address each WebSocket
/// connection leaves from.
struct LoadTarget: Sendable {
    let host: String
    let port: Int

    /// Connections per loopback source address. Each address has its own ephemeral port
    /// range (about 28,000 ports by default); staying well under it leaves room for the HTTP
    /// pool, other programs and sockets still in TIME_WAIT from an earlier run.
    static let connectionsPerSourceAddress = 16_000

    init(url: String) throws {
        guard let parsed = URL(string: url), let host = parsed.host, !host.isEmpty else {
            throw LoadError("--url must be an http URL such as http://127.0.0.1:8080 (got '\(url)')")
        }
        guard parsed.scheme == "http" else {
            throw LoadError("--url must use http:// (TLS is not supported by the load generator)")
        }
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        port = parsed.port ?? 80
    }

    /// The Host header value.
    var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Loopback targets can be reached from any 127.0.0.0/8 address without configuration.
    var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Source addresses to spread `connections` WebSocket connections over: 1 means "let the
    /// kernel choose", as for any non-loopback target.
    func sourceAddressCount(connections: Int, requested: Int?) -> Int {
        guard isLoopback, host != "::1" else { return 1 }
        if let requested { return max(1, min(requested, 254)) }
        return min(254, max(1, (connections + Self.connectionsPerSourceAddress - 1) / Self.connectionsPerSourceAddress))
    }

    /// The address to connect to. With several source addresses the connection must be IPv4
    /// (a 127.0.0.x source cannot reach ::1), so `localhost` is pinned to 127.0.0.1.
    func address(spreading: Bool) throws -> SocketAddress {
        if spreading && host == "localhost" { return try SocketAddress(ipAddress: "127.0.0.1", port: port) }
        if let numeric = try? SocketAddress(ipAddress: host, port: port) { return numeric }
        return try SocketAddress.makeAddressResolvingHost(host, port: port)
    }

    /// The local address of WebSocket connection `index` when spreading over `count` source
    /// addresses: 127.0.0.1 for the first block of connections, 127.0.0.2 for the next, and so on.
    func sourceAddress(forConnection index: Int, connections: Int, count: Int) throws -> SocketAddress? {
        guard count > 1 else { return nil }
        let perAddress = (connections + count - 1) / count
        return try SocketAddress(ipAddress: "127.0.0.\(1 + index / perAddress)", port: 0)
    }
}
