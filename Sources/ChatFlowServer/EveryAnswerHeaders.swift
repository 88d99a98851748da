/// Headers every answer carries, errors included, whichever layer makes it (the router's
/// middleware, a refused WebSocket upgrade, a request refused before routing): no answer is
/// sniffed as another type, and no address travels on as a referrer.
enum EveryAnswerHeaders {
    static let fields: [(name: String, value: String)] = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    ]

    /// As lines of a response head written by hand, each ending in CRLF.
    static var headLines: String {
        fields.map { "\($0.name): \($0.value)\r\n" }.joined()
    }
}
