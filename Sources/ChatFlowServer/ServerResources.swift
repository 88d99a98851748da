import Foundation

/// The files this module ships beside the executable (`ChatFlow_ChatFlowServer.resources`:
/// the web client and `openapi.yaml`).
///
/// Looked up here rather than through `Bundle.module`, which stops the process when the
/// bundle is missing (a binary copied without it: every command, `token` too, crashed),
/// and which otherwise falls back to the build tree the binary was made in, so that a copied
/// binary served whatever that tree held at the time.
enum ServerResources {
    static let bundleName = "ChatFlow_ChatFlowServer.resources"

    /// The bundle's directory, beside the executable (also when started through a link), or nil.
    static let directory: URL? = {
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        for base in [Bundle.main.bundleURL, executable] {
            let candidate = base.appendingPathComponent(bundleName)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), isDirectory.boolValue {
                return candidate
            }
        }
        return nil
    }()

    /// The path of `name` in the bundle, if it is there.
    static func path(_ name: String) -> String? {
        guard let file = directory?.appendingPathComponent(name), FileManager.default.fileExists(atPath: file.path) else { return nil }
        return file.path
    }
}
