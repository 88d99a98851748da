import ChatFlowCore
import Foundation
import Hummingbird
import Logging
import Testing

@testable import ChatFlowServer
import ChatFlowTestSupport

/// The published OpenAPI document describes exactly the routes the router serves.
@Suite(.timeLimit(.minutes(3))) struct OpenAPITests {
    /// `{name}` path parameters written as `:name`, so both sides compare equal.
    private static func normalize(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { part -> String in
            if part.hasPrefix("{") && part.hasSuffix("}") { return ":" + part.dropFirst().dropLast() }
            return String(part)
        }.joined(separator: "/")
    }

    private static func packageRoot() throws -> URL {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        throw TestFailure("no Package.swift above \(#filePath)")
    }

    /// `METHOD /path` for every operation under `paths:`, read by indentation: path keys
    /// at two spaces, method keys at four.
    private static func documentedRoutes() throws -> Set<String> {
        let url = try packageRoot().appendingPathComponent("Sources/ChatFlowServer/openapi.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]
        var routes = Set<String>()
        var inPaths = false
        var current: String?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw[...]
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.trimmingCharacters(in: .whitespaces).hasPrefix("#") { continue }
            if !line.hasPrefix(" ") {
                inPaths = line.hasPrefix("paths:")
                current = nil
                continue
            }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                current = normalize(String(line.dropFirst(2).dropLast()))
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), let path = current {
                let key = line.dropFirst(4).split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
                if methods.contains(key) { routes.insert("\(key.uppercased()) \(path)") }
            }
        }
        return routes
    }

    private static func routerRoutes() async throws -> Set<String> {
        let dir = TemporaryDirectory("chatflow-openapi")
        defer { dir.remove() }
        let engine = try ChatFlowEngine(dataDirectory: dir.appending("data"))
        defer { engine.close() }
        let configuration = ServerConfiguration(jwtSecret: TestServer.secret)
        let metrics = ServerMetrics()
        let commands = ChatFlowCommands(engine: engine)
        let router = buildRouter(
            commands: commands, engine: engine, configuration: configuration, metrics: metrics,
            verifier: await TokenVerifier(configuration: configuration), readiness: Readiness(log: engine.log),
            limits: RateLimitMiddleware(writes: RateLimiter(rate: 0, burst: 1), reads: RateLimiter(rate: 0, burst: 1)))
        return Set(router.routes.map { "\($0.method.rawValue) \(normalize($0.path.description))" })
    }

    @Test func documentedPathsAndMethodsEqualTheRoutersRoutes() async throws {
        let documented = try Self.documentedRoutes()
        let served = try await Self.routerRoutes()
        #expect(documented.count >= 10, "parsed too few operations from openapi.yaml: \(documented.sorted())")
        let undocumented = served.subtracting(documented).sorted()
        let unserved = documented.subtracting(served).sorted()
        #expect(
            undocumented.isEmpty && unserved.isEmpty,
            "served but not in openapi.yaml: \(undocumented); in openapi.yaml but not served: \(unserved)")
    }

    @Test func theServerServesTheDocument() async throws {
        try await TestServer.run { server in
            let reply = try await server.call(.get, "/openapi.yaml", as: nil)
            #expect(reply.status == 200)
            #expect(reply.text.hasPrefix("openapi: 3.1"), "body starts: \(reply.text.prefix(40))")
        }
    }
}
