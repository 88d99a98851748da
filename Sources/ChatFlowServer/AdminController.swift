import ChatFlowCore
import ChatFlowStorage
import Dispatch
import Foundation
import Hummingbird

/// `/admin/…`: operations on the running server, for operators' tokens only
/// (`chatflow token --admin`, minted with the server's secret).
struct AdminController {
    let engine: ChatFlowEngine
    let verifier: TokenVerifier
    let maxBodyBytes: Int
    /// Files of the data directory a backup carries besides the database.
    let sidecarFiles: [String]

    private struct BackupView: Encodable {
        let directory: String
        let lastEventId: String?
        /// The data directory backed up.
        let dataDirectory: String
    }

    func addRoutes(to router: some RouterMethods<ChatFlowRequestContext>) {
        router.post("/admin/backup", use: backup)
    }

    /// A consistent online backup (RocksDB checkpoint) into a directory that must not exist yet.
    @Sendable func backup(_ request: Request, context: ChatFlowRequestContext) async throws -> Response {
        try await verifier.requireAdmin(try AuthenticationMiddleware.token(in: request))
        let body = try await RequestBody.decode(BackupBody.self, from: request, limit: maxBodyBytes)
        guard body.to.hasPrefix("/") else { throw ProblemDetail.invalid("to: give an absolute path on the server's machine") }
        // A NUL would end the path early for the file system: the backup would go elsewhere.
        try Validation.requireNoControls(body.to, field: "to", allowingLineBreaks: false)
        if let problem = ChatFlowEngine.backupNameProblem(body.to) { throw ProblemDetail.invalid("to: \(problem)") }
        let parent = (body.to as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ProblemDetail.invalid("to: \(parent) is not an existing directory; the backup directory is made inside one")
        }
        guard !FileManager.default.fileExists(atPath: body.to) else {
            throw ProblemDetail(.conflict, "to: \(body.to) already exists; backups go into a new directory")
        }
        // Compared with symbolic links resolved (the backup does not exist yet: its parent's).
        let dataDirectory = URL(fileURLWithPath: engine.dataDirectory).resolvingSymlinksInPath().path
        let target = URL(fileURLWithPath: parent).resolvingSymlinksInPath().appendingPathComponent((body.to as NSString).lastPathComponent).path
        guard !(target + "/").hasPrefix(dataDirectory + "/") else {
            throw ProblemDetail.invalid("to: \(body.to) is inside the data directory \(dataDirectory); a backup must survive losing it")
        }
        if let asked = body.identity, asked != ChatFlowEngine.identity(of: engine.dataDirectory) {
            throw ProblemDetail(.conflict, "this server's data directory is \(dataDirectory), not the one asked for (their identities differ); ask the server that runs on it")
        }
        let (engine, files) = (engine, sidecarFiles)
        // The checkpoint flushes and hard-links files: blocking work, kept off the event loops.
        let position: ULID?
        do {
            position = try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try engine.backup(to: body.to, alsoCopying: files) })
                }
            }
        } catch StorageError.notWritable(_, let detail) {
            // The server writes the backup itself: the directory must be writable to it.
            throw ProblemDetail(.internalServerError, "the server cannot write \(body.to) (\(detail)); the directory must be writable by the server's user (under the systemd unit: add it to ReadWritePaths, as /var/backups/chatflow is)")
        } catch StorageError.noSpace(let detail) where detail.contains(body.to) {
            // The backup's disk, not the data's: writes go on, and the 503 of a full data
            // disk would send whoever reads it after the wrong disk.
            context.logger.warning("backup failed: no space left for it", metadata: ["directory": "\(body.to)"])
            throw ProblemDetail(HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"),
                                "no space left for the backup in \(parent) (\(detail)); the data directory is unaffected and takes writes as before: free space there or choose another directory")
        }
        context.logger.notice("backup written", metadata: ["directory": "\(body.to)"])
        return try JSONResponse.make(BackupView(directory: body.to, lastEventId: position?.description, dataDirectory: dataDirectory), status: .created)
    }
}
