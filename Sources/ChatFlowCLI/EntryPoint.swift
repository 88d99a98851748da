import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

@main
enum EntryPoint {
    static func main() async {
        // Everything `chatflow` writes holds private chats or their secret: the data
        // directory, backups, the JWT secret. Files it creates are for its own user alone,
        // whatever umask it was started with (a systemd unit sets one; a shell mostly 022).
        umask(0o077)
        let command: ParsableCommand
        do {
            command = try ChatFlowCommand.parseAsRoot()
        } catch {
            ChatFlowCommand.exit(withError: error)
        }
        do {
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                var synchronous = command
                try synchronous.run()
            }
        } catch let error as ValidationError {
            // ArgumentParser shows the root command's usage for an error thrown by a
            // subcommand's `run` (checks that need the file system, say): the usage that
            // goes with it is the subcommand's, as for the errors its parsing finds.
            FileHandle.standardError.write(Data(usageError(error.message, in: type(of: command)).utf8))
            exit(ExitCode.validationFailure.rawValue)
        } catch {
            ChatFlowCommand.exit(withError: error)
        }
    }

    /// "Error: …", then the usage line of `command` and where its help is, as ArgumentParser
    /// words a usage error.
    static func usageError(_ message: String, in command: ParsableCommand.Type) -> String {
        let help = ChatFlowCommand.helpMessage(for: command)
        let usage = help.components(separatedBy: "\n\n").first { $0.hasPrefix("USAGE: ") }
            .map { "Usage: " + $0.dropFirst("USAGE: ".count) + "\n" } ?? ""
        let path = path(to: command)
        let name = path.isEmpty ? ChatFlowCommand._commandName : path.joined(separator: " ")
        return "Error: \(message)\n\(usage)  See '\(name) --help' for more information.\n"
    }

    /// The command names from `chatflow` down to `command`.
    static func path(to command: ParsableCommand.Type, from root: ParsableCommand.Type = ChatFlowCommand.self) -> [String] {
        if command == root { return [root._commandName] }
        for child in root.configuration.subcommands {
            let below = path(to: command, from: child)
            if !below.isEmpty { return [root._commandName] + below }
        }
        return []
    }
}
