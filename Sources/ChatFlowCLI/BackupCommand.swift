import ArgumentParser
import ChatFlowCore
import ChatFlowServer
import ChatFlowStorage
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `chatflow backup --to DIR`: a consistent copy of the data directory. With the server
/// stopped it checkpoints the directory itself; while `serve` runs (it holds the lock) it
/// asks the server to checkpoint, with an operator's token minted from the same secret.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Consistent online backup (RocksDB checkpoint) of the data directory into a new directory."
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(help: "Directory to create for the backup (must not exist).")
    var to: String

    @Option(help: "The running server to ask when the data directory is in use (default: http://$CHATFLOW_HOST:$CHATFLOW_PORT).")
    var url: String?

    func run() async throws {
        let target = URL(fileURLWithPath: to).standardizedFileURL.path
        if let problem = ChatFlowEngine.backupNameProblem(target) { throw ValidationError("--to: \(problem)") }
        guard !FileManager.default.fileExists(atPath: target) else {
            throw ValidationError("--to: \(target) already exists; backups go into a new directory")
        }
        // Compared with symbolic links resolved (the backup does not exist yet: its parent's).
        let source = URL(fileURLWithPath: data.path).resolvingSymlinksInPath().path
        let resolvedTarget = URL(fileURLWithPath: target).deletingLastPathComponent().resolvingSymlinksInPath()
            .appendingPathComponent(URL(fileURLWithPath: target).lastPathComponent).path
        guard !(resolvedTarget + "/").hasPrefix(source + "/") else {
            throw ValidationError("--to: \(target) is inside the data directory \(source); a backup must survive losing it")
        }
        let environment = Environment()
        do {
            let engine = try ChatFlowEngine(dataDirectory: data.path, databaseOptions: .existing.withinDescriptorLimit())
            defer { engine.close() }
            DataDirectoryOptions.reportOpening(engine, command: "backup")
            let last = try engine.backup(to: target, alsoCopying: [ServerConfiguration.secretFileName])
            print("backup of \(data.path) written to \(target) (last event \(last?.description ?? "none"))")
        } catch StorageError.locked {
            try await askServer(target: target, environment: environment)
        } catch StorageError.notWritable(let path, let detail) where path == target {
            // The checkpoint's target, not the data directory, is what cannot be written.
            print("backup failed: cannot write \(target) (\(detail)); choose a directory this user can write")
            throw ExitCode(1)
        } catch let error as StorageError {
            throw DataDirectoryOptions.unusable(error, in: "backup")
        }
    }

    /// Where to reach a server listening on `host`: a loopback for the addresses of every
    /// interface, and `localhost` for IPv6's (this build's URL loader cannot reach an IPv6
    /// address in brackets; `localhost` names both loopbacks). Another IPv6 address is
    /// written in brackets, which the loader refuses with a hint to pass `--url`.
    static func reachable(_ host: String) -> String {
        switch host {
        case "0.0.0.0": "127.0.0.1"
        case "::", "::1", "[::]", "[::1]": "localhost"
        case let ipv6 where ipv6.contains(":") && !ipv6.hasPrefix("["): "[\(ipv6)]"
        default: host
        }
    }

    private func askServer(target: String, environment: Environment) async throws {
        let base = url ?? "http://\(Self.reachable(environment["CHATFLOW_HOST"] ?? "127.0.0.1")):\(environment["CHATFLOW_PORT"] ?? "8080")"
        guard let endpoint = URL(string: base + "/admin/backup") else { throw ValidationError("--url: \(base) is not a URL") }
        let (secret, _) = try environment.jwtSecret(dataDirectory: data.path, create: false)
        let token = try await environment.tokenSigner(secret: secret).sign(user: "chatflow-backup", ttl: 300, admin: true)

        var request = URLRequest(url: endpoint)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        // The server checks that the directory it runs on is this one: --url (or the
        // environment) may name the server of another.
        var body = ["to": target]
        body["identity"] = ChatFlowEngine.identity(of: data.path)
        request.httpBody = try JSONEncoder().encode(body)
        request.timeoutInterval = 600
        let answer: Data, response: URLResponse
        do {
            (answer, response) = try await URLSession.shared.data(for: request)
        } catch {
            // A server that went away while it worked may have finished the copy (RocksDB
            // renames a checkpoint into place once it is whole) without saying so.
            if FileManager.default.fileExists(atPath: target + "/CURRENT") {
                print("backup unconfirmed: the server at \(base) stopped answering (\(error.localizedDescription)) after it had written \(target); "
                    + "it may lack the files copied last (the JWT secret): restore it into a scratch directory and run `chatflow verify` before relying on it")
                throw ExitCode(1)
            }
            if let refused = error as? URLError, refused.code == .badURL, base.contains("[") {
                print("backup failed: this build's URL loader cannot reach an IPv6 address written in brackets (\(base)); "
                    + "pass --url with a host name of the server, such as http://localhost:\(URL(string: base)?.port ?? 8080) for a loopback")
                throw ExitCode(1)
            }
            if let lost = error as? URLError, [.networkConnectionLost, .timedOut].contains(lost.code) {
                // It took the request and went away before answering: not a wrong address.
                let left = FileManager.default.fileExists(atPath: target + ".tmp") ? "; remove the unfinished \(target).tmp" : ""
                print("backup failed: the server at \(base) stopped answering while it made the backup (\(lost.localizedDescription)); "
                    + "nothing usable was written to \(target)\(left), and run the backup again once the server is back")
                throw ExitCode(1)
            }
            let address = url == nil ? "pass --url, or set CHATFLOW_HOST/CHATFLOW_PORT as the server has them" : "check that --url is the server's"
            print("backup failed: \(data.path) is in use, and no server answered at \(base) (\(error.localizedDescription)); "
                + "if a server has it, \(address); "
                + "if another command has it (rebuild, verify, restore), wait for that to end")
            throw ExitCode(1)
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let reply = (try? JSONSerialization.jsonObject(with: answer)) as? [String: Any] ?? [:]
        guard status == 201 else {
            print("backup failed: the server at \(base) answered \(status): \(reply["detail"] as? String ?? String(decoding: answer, as: UTF8.self))")
            throw ExitCode(1)
        }
        // The server wrote it as it sees the file system. Under systemd's PrivateTmp= (or
        // another mount namespace) its /tmp is not this one: a backup there is invisible here
        // and goes when the service stops.
        var seen = stat()
        if stat(target + "/CURRENT", &seen) != 0 {
            guard errno != EACCES else {
                // The service's own directory (mode 0700, say): there, but not this user's to see.
                print("backup of the running server's data written to \(target), the server says (this user cannot look into it to confirm)")
                return
            }
            print("backup failed: the server at \(base) wrote \(target), but it is not there as this command sees the file system "
                + "(a service's private /tmp or /var/tmp, as the systemd unit's PrivateTmp=yes gives it, is its own: the copy there takes "
                + "disk space until the service stops, and goes then); back up into a directory outside /tmp and /var/tmp, such as /var/backups/chatflow")
            throw ExitCode(1)
        }
        print("backup of the running server's data (\(reply["dataDirectory"] as? String ?? data.path)) written to \(target) (last event \(reply["lastEventId"] as? String ?? "none"))")
    }
}
