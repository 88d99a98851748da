import ArgumentParser
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
        await ChatFlowCommand.main()
    }
}
