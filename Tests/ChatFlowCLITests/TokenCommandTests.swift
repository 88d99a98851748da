import Foundation
import Testing
import ChatFlowTestSupport

/// `chatflow token` on a data directory with no secret yet creates one, says so once on
/// standard error, and a server started there accepts the token.
@Suite(.timeLimit(.minutes(2))) struct TokenCommandTests {
    @Test func aNewSecretIsAnnouncedOnceAndTheServerAcceptsItsTokens() async throws {
        let dir = TemporaryDirectory("chatflow-token")
        defer { dir.remove() }
        let data = dir.appending("data")
        var tokens: [String] = []
        var notices: [String] = []
        for run in 0..<2 {
            let errors = dir.appending("token-\(run).err")
            let minted = try ChildProcess(["token", "--user", "alice", "--data-dir", data], environment: ["CHATFLOW_JWT_SECRET": ""], errorFile: errors)
            #expect(await minted.exitStatus() == 0)
            tokens.append(try #require(minted.lines.last { !$0.isEmpty }))
            notices.append(try String(contentsOfFile: errors, encoding: .utf8))
        }
        #expect(notices[0].contains("created a JWT secret in \(data)/jwt-secret"), "\(notices[0])")
        #expect(notices[1].isEmpty, "only the run that created the secret says so: \(notices[1])")
        let mode = try FileManager.default.attributesOfItem(atPath: data + "/jwt-secret")[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let (server, port) = try await Serve.start(dataDirectory: data, environment: ["CHATFLOW_JWT_SECRET": ""])
        defer { _ = server.stop(with: SIGTERM) }
        for token in tokens {
            let client = APIClient(port: port, token: token)
            defer { client.invalidate() }
            #expect(try await client.call("GET", "/chats").status == 200)
        }
    }

    /// A lifetime must be a positive duration of at most 366 days: a token cannot be
    /// revoked before it expires.
    @Test func aTokensLifetimeIsBounded() async throws {
        let dir = TemporaryDirectory("chatflow-token")
        defer { dir.remove() }
        let environment = ["CHATFLOW_JWT_SECRET": "token-test-secret-0123456789abcdef0123"]
        for ttl in ["366d", "90m", "3600"] {
            #expect(await (try ChildProcess(["token", "--user", "alice", "--ttl", ttl, "--data-dir", dir.appending("d")], environment: environment)).exitStatus() == 0, "\(ttl)")
        }
        for ttl in ["367d", "99999999999d", "1e309", "inf", "0", "--ttl=-5", "soon"] {
            let arguments = ttl.hasPrefix("--") ? ["token", "--user", "alice", ttl] : ["token", "--user", "alice", "--ttl", ttl]
            let errors = dir.appending("ttl.err")
            let minted = try ChildProcess(arguments + ["--data-dir", dir.appending("d")], environment: environment, errorFile: errors)
            #expect(await minted.exitStatus() != 0, "\(ttl) was accepted")
            #expect(try String(contentsOfFile: errors, encoding: .utf8).contains("--ttl must be"), "\(ttl)")
        }
        // The server's own bound, when it is set lower: a token it would refuse is not minted.
        var bounded = environment
        bounded["CHATFLOW_JWT_MAX_DAYS"] = "10"
        #expect(await (try ChildProcess(["token", "--user", "alice", "--ttl", "10d", "--data-dir", dir.appending("d")], environment: bounded)).exitStatus() == 0)
        let errors = dir.appending("bounded.err")
        let longer = try ChildProcess(["token", "--user", "alice", "--ttl", "11d", "--data-dir", dir.appending("d")], environment: bounded, errorFile: errors)
        #expect(await longer.exitStatus() == 64)
        #expect(try String(contentsOfFile: errors, encoding: .utf8).contains("at most 10d"))
        bounded["CHATFLOW_JWT_MAX_DAYS"] = "-1"
        let badSetting = dir.appending("setting.err")
        let refused = try ChildProcess(["token", "--user", "alice", "--data-dir", dir.appending("d")], environment: bounded, errorFile: badSetting)
        #expect(await refused.exitStatus() == 78)
        #expect(try String(contentsOfFile: badSetting, encoding: .utf8).contains("CHATFLOW_JWT_MAX_DAYS must be 0 (no bound) to 36600 days"))
    }

    /// A data directory that is a file is a data directory the command cannot use: 74.
    @Test func aDataDirectoryThatIsAFileIs74() async throws {
        let dir = TemporaryDirectory("chatflow-token-file")
        defer { dir.remove() }
        let file = dir.appending("file")
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let errors = dir.appending("file.err")
        #expect(await (try ChildProcess(["token", "--user", "alice", "--data-dir", file], errorFile: errors)).exitStatus() == 74)
        #expect(try String(contentsOfFile: errors, encoding: .utf8).contains("is not a directory"))
    }

    /// `chatflow` alone is a usage error, as any other: 64, with the usage on stderr.
    @Test func noSubcommandIsAUsageError() async throws {
        let dir = TemporaryDirectory("chatflow-usage")
        defer { dir.remove() }
        let errors = dir.appending("usage.err")
        #expect(await (try ChildProcess([], errorFile: errors)).exitStatus() == 64)
        let said = try String(contentsOfFile: errors, encoding: .utf8)
        #expect(said.contains("give a subcommand") && said.contains("serve"), "\(said)")
        #expect(await (try ChildProcess(["--help"])).exitStatus() == 0, "help asked for is not an error")
    }
}
