import Foundation
import Logging

/// Sets up logging once per process: text lines on stderr, or one JSON object per line
/// with `CHATFLOW_LOG_FORMAT=json`; level from `CHATFLOW_LOG_LEVEL` (default info).
enum LogSetup {
    static func configure(_ environment: Environment) -> Logger {
        let level = environment["CHATFLOW_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let json = environment["CHATFLOW_LOG_FORMAT"] == "json"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "chatflow")
    }
}
