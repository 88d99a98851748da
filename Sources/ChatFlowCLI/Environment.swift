import ChatFlowCore
import ChatFlowServer
import ChatFlowStorage
import Foundation

/// The `CHATFLOW_*` environment: the only code that reads it.
struct Environment {
    let values: [String: String]

    init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    /// Signs tokens the server accepts: with `secret`, and the issuer and audience it checks
    /// (`CHATFLOW_JWT_ISSUER`, `CHATFLOW_JWT_AUDIENCE`).
    func tokenSigner(secret: String) async throws(ConfigurationError) -> TokenVerifier {
        var configuration = ServerConfiguration(jwtSecret: secret)
        configuration.jwtIssuer = self["CHATFLOW_JWT_ISSUER"]
        configuration.jwtAudience = self["CHATFLOW_JWT_AUDIENCE"]
        try configuration.validate()
        return await TokenVerifier(configuration: configuration)
    }

    subscript(_ key: String) -> String? {
        values[key].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `CHATFLOW_JWT_MAX_DAYS`, as `serve` takes it: the longest a token may live, 0 for
    /// no bound. `token` mints none that `serve` would refuse.
    func jwtMaxDays() throws -> Int {
        let days = try integer("CHATFLOW_JWT_MAX_DAYS") ?? ServerConfiguration.defaultJWTMaxDays
        guard ServerConfiguration.jwtMaxDaysRange.contains(days) else { throw ServerConfiguration.jwtMaxDaysProblem }
        return days
    }

    /// Digits, with a `-` before them for a negative number (`Int` also reads `+5`).
    func integer(_ key: String) throws -> Int? {
        guard let text = self[key] else { return nil }
        guard !text.hasPrefix("+"), let value = Int(text) else { throw ConfigurationError("\(key) must be a whole number (got '\(text)')") }
        return value
    }

    /// A number written as digits with at most one decimal point (`20`, `0.5`): `Double`
    /// also reads `inf`, `1e3` and `0x10`, and `inf` turned a rate limit off unannounced.
    func number(_ key: String) throws -> Double? {
        guard let text = self[key] else { return nil }
        let plain = text.allSatisfy { ("0"..."9").contains($0) || $0 == "." } && text.filter { $0 == "." }.count <= 1
        guard plain, let value = Double(text), value.isFinite else {
            throw ConfigurationError("\(key) must be a number written with digits and at most one '.' (got '\(text)')")
        }
        return value
    }

    /// The JWT secret: `CHATFLOW_JWT_SECRET`, else the one kept in the data directory, else
    /// (when `create` is set) a new random one written there with mode 0600.
    func jwtSecret(dataDirectory: String, create: Bool) throws -> (secret: String, created: Bool) {
        if let secret = self["CHATFLOW_JWT_SECRET"] { return (secret, false) }
        let path = dataDirectory + "/" + ServerConfiguration.secretFileName
        if FileManager.default.fileExists(atPath: path) {
            // Never replaced when it cannot be read: a new secret would void every token.
            let secret: String
            do {
                secret = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw ConfigurationError("cannot read the JWT secret in \(path) (\(error.localizedDescription)); fix its owner or permissions, or set CHATFLOW_JWT_SECRET")
            }
            // Said of the file: CHATFLOW_JWT_SECRET, which the general check names, is unset.
            guard secret.utf8.count >= ServerConfiguration.minimumSecretBytes else {
                throw ConfigurationError("the JWT secret in \(path) must be at least \(ServerConfiguration.minimumSecretBytes) bytes (it has \(secret.utf8.count)); put one there (openssl rand -hex 32), or set CHATFLOW_JWT_SECRET")
            }
            return (secret, false)
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: dataDirectory, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw StorageError.notADirectory(path: dataDirectory)
        }
        // Not in the place of a data directory a restore stopped before putting back.
        try ChatFlowEngine.requireNoInterruptedRestore(at: dataDirectory)
        guard create else {
            throw ConfigurationError("no JWT secret: set CHATFLOW_JWT_SECRET as the server has it, or start the server once with --data-dir \(dataDirectory) (it makes \(path))")
        }
        // Failing here is the data directory's fault (74), not a setting's.
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw StorageError.notWritable(path: dataDirectory, detail: error.localizedDescription)
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = rng.next() }
        let secret = bytes.map { String(format: "%02x", $0) }.joined()
        guard FileManager.default.createFile(atPath: path, contents: Data((secret + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw StorageError.notWritable(path: dataDirectory, detail: "could not write the JWT secret to \(path): \(String(cString: strerror(errno)))")
        }
        return (secret, true)
    }
}
