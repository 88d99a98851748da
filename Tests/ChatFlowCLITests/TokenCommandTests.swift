import Foundation
import Testing
import ChatFlowTestSupport

/// `chatflow token` signs with the secret the server has: CHATFLOW_JWT_SECRET, or the one
/// `serve` made in the data directory. It makes none itself, which no running server would
/// take.
@Suite(.timeLimit(.minutes(2))) struct TokenCommandTests {
    @Test func withoutASecretNothingIsMadeAndTheServersOwnSignsTokensItAccepts() async throws {
        let dir = TemporaryDirectory("chatflow-token")
        defer { dir.remove() }
        let data = dir.appending("data")
        let errors = dir.appending("token.err")
        let refused = try ChildProcess(["token", "--user", "alice", "--data-dir", data], environment: ["CHATFLOW_JWT_SECRET": ""], errorFile: errors)
        #expect(await refused.exitStatus() == 78)
        #expect(try String(contentsOfFile: errors, encoding: .utf8).contains("no JWT secret"))
        #expect(!FileManager.default.fileExists(atPath: data), "the command made the data directory")
        // A secret the server would not start with is a setting's fault, as `serve` says (78).
        let short = try ChildProcess(["token", "--user", "alice", "--data-dir", data], environment: ["CHATFLOW_JWT_SECRET": "too-short"])
        #expect(await short.exitStatus() == 78)

        let (server, port) = try await Serve.start(dataDirectory: data, environment: ["CHATFLOW_JWT_SECRET": ""])
        defer { _ = server.stop(with: SIGTERM) }
        let mode = try FileManager.default.attributesOfItem(atPath: data + "/jwt-secret")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let minted = try ChildProcess(["token", "--user", "alice", "--data-dir", data], environment: ["CHATFLOW_JWT_SECRET": ""])
        #expect(await minted.exitStatus() == 0)
        let client = APIClient(port: port, token: try #require(minted.lines.last { !$0.isEmpty }))
        defer { client.invalidate() }
        #expect(try await client.call("GET", "/chats").status == 200)
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

    /// A usage error a subcommand finds when it runs (it needed the file system) comes with
    /// that subcommand's usage, as one its parsing finds does, not the root command's.
    @Test func aSubcommandsUsageErrorShowsItsOwnUsage() async throws {
        let dir = TemporaryDirectory("chatflow-usage")
        defer { dir.remove() }
        let file = dir.appending("file")
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let errors = dir.appending("restore.err")
        #expect(await (try ChildProcess(["restore", "--from", file, "--data-dir", dir.appending("data")], errorFile: errors)).exitStatus() == 64)
        let said = try String(contentsOfFile: errors, encoding: .utf8)
        #expect(said.hasPrefix("Error: --from: \(file) is a file"), "\(said)")
        #expect(said.contains("Usage: chatflow restore ") && said.contains("See 'chatflow restore --help'"), "\(said)")
        #expect(!said.contains("chatflow <subcommand>"), "\(said)")
    }
}
