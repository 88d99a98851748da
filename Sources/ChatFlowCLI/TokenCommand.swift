import ArgumentParser
import ChatFlowCore
import ChatFlowServer
import ChatFlowStorage
import Foundation

/// `chatflow token --user alice`: a token signed with the configured secret.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Mint a JWT for a user with the configured secret ($CHATFLOW_JWT_SECRET, or the one `serve` made in the data dir)."
    )

    @OptionGroup var data: DataDirectoryOptions

    @Option(help: "The user id (1–64 of A-Z a-z 0-9 _ . -).")
    var user: String

    @Option(help: "Lifetime, e.g. 3600, 90m, 12h or 7d.")
    var ttl = "24h"

    @Flag(help: "An operator's token, which may call /admin/… (such as online backups).")
    var admin = false

    func run() async throws {
        let environment = Environment()
        do {
            _ = try UserID(validating: user)
        } catch {
            throw ValidationError("--user: \(error.detail)")
        }
        guard let seconds = Self.seconds(ttl), seconds > 0, seconds.isFinite else {
            throw ValidationError("--ttl must be a positive duration such as 3600, 90m, 12h or 7d")
        }
        // A bearer token cannot be taken back before it expires: one that never does is a
        // password that cannot be changed (short of changing the secret for everyone). The
        // server refuses any that lives longer than CHATFLOW_JWT_MAX_DAYS: none is minted.
        let maxDays: Int
        do {
            maxDays = try environment.jwtMaxDays()
        } catch {
            // A setting, as `serve` says of it (78), not a usage error.
            FileHandle.standardError.write(Data("token: \(error)\n".utf8))
            throw ExitCode(78)
        }
        // With no bound set (0), still at most the largest bound one may set (about a
        // century): a lifetime in the millions of days gave an `exp` past year 9999, which
        // the server reads as no time at all.
        let longest = maxDays == 0 ? ServerConfiguration.jwtMaxDaysRange.upperBound : maxDays
        guard seconds <= TimeInterval(longest) * 86400 else {
            let why = maxDays == 0 ? "the longest any CHATFLOW_JWT_MAX_DAYS allows" : "as the server takes (CHATFLOW_JWT_MAX_DAYS)"
            throw ValidationError("--ttl must be at most \(longest)d, \(why): a token cannot be revoked before it expires; mint a new one when it does")
        }
        // Never made here: a secret this command made would be taken by no server already
        // running (one started with CHATFLOW_JWT_SECRET keeps its own), so its tokens would
        // be refused while the command said they were good.
        let secret: String
        do {
            (secret, _) = try environment.jwtSecret(dataDirectory: data.path, create: false)
        } catch let error as StorageError {
            throw DataDirectoryOptions.unusable(error, in: "token")
        } catch {
            FileHandle.standardError.write(Data("token: \(error)\n".utf8))
            throw ExitCode(78)
        }
        let signer: TokenVerifier
        do {
            signer = try await environment.tokenSigner(secret: secret)
        } catch {
            // A secret `serve` would not start with (too short): a setting, as it says (78).
            FileHandle.standardError.write(Data("token: \(error.description)\n".utf8))
            throw ExitCode(78)
        }
        print(try await signer.sign(user: user, ttl: seconds, admin: admin))
    }

    static func seconds(_ text: String) -> TimeInterval? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let unit = text.last.flatMap({ units[$0] }), let value = Double(text.dropLast()) { return value * unit }
        return Double(text)
    }
}
