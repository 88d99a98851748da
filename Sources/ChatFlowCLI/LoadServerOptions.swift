import ArgumentParser
import ChatFlowServer

/// The server a load runs against and how to sign its users in: the options `loadtest` and
/// `bench read` share.
struct LoadServerOptions: ParsableArguments {
    @Option(help: "The server, e.g. http://127.0.0.1:8080.")
    var url: String

    @Option(help: "The server's JWT secret (default $CHATFLOW_JWT_SECRET).")
    var jwtSecret: String?

    /// The server's address, or a usage error.
    func target() throws -> LoadTarget {
        do {
            return try LoadTarget(url: url)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Signs tokens the server accepts, with the secret given or in the environment.
    func signer() async throws -> TokenVerifier {
        let environment = Environment()
        guard let secret = jwtSecret ?? environment["CHATFLOW_JWT_SECRET"] else {
            throw ValidationError("give the server's secret with --jwt-secret or CHATFLOW_JWT_SECRET")
        }
        do {
            return try await environment.tokenSigner(secret: secret)
        } catch {
            throw ValidationError("--jwt-secret: \(error.description)")
        }
    }
}
