import Foundation
import ChatFlowServer
import Logging

/// Sets up logging once per process: text lines on stderr, or one JSON object per line
/// with `CHATFLOW_LOG_FORMAT=json`; level from `CHATFLOW_LOG_LEVEL` (default info).
enum LogSetup {
    /// Refuses a level or format it does not know, as every other `CHATFLOW_*` setting is.
    static func configure(_ environment: Environment) throws(ConfigurationError) -> Logger {
        var level = Logger.Level.info
        if let text = environment["CHATFLOW_LOG_LEVEL"] {
            guard let known = Logger.Level(rawValue: text.lowercased()) else {
                throw ConfigurationError("CHATFLOW_LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical (got '\(text)')")
            }
            level = known
        }
        let format = environment["CHATFLOW_LOG_FORMAT"]?.lowercased() ?? "text"
        guard format == "text" || format == "json" else {
            throw ConfigurationError("CHATFLOW_LOG_FORMAT must be text or json (got '\(environment["CHATFLOW_LOG_FORMAT"] ?? "")')")
        }
        let json = format == "json"
        let chosen = level
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = chosen
            return handler
        }
        return Logger(label: "chatflow")
    }
}
