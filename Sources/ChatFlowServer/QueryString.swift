/// Checks on a raw query string (the part after `?`) that every way in applies alike: the
/// router's requests and the WebSocket upgrade, which signs in before any route.
enum QueryString {
    /// Whether a name (the text before a pair's `=`) holds a `%`. Every name of ours is plain
    /// ASCII, and a proxy that decodes names would read another parameter than we do.
    static func hasEscapedName(_ query: String) -> Bool {
        var inName = true
        for byte in query.utf8 {
            switch byte {
            case UInt8(ascii: "&"): inName = true
            case UInt8(ascii: "="): inName = false
            case UInt8(ascii: "%") where inName: return true
            default: break
            }
        }
        return false
    }

    /// How many pairs name `name`.
    static func count(of name: String, in query: String) -> Int {
        query.split(separator: "&").count { $0.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0] == name }
    }
}
