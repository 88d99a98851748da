import ChatFlowCore
import ChatFlowStorage
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1

/// An RFC 9457 problem: `application/problem+json` with `type`, `title`, `status`, `detail`,
/// its keys sorted as in every answer (Foundation's encoder orders them at random otherwise,
/// and the same error would not be the same bytes twice).
public struct ProblemDetail: HTTPResponseError, Encodable, Sendable {
    public let type: String
    public let title: String
    public let status: HTTPResponse.Status
    public let detail: String
    /// Extra headers, such as `Retry-After`.
    let headers: HTTPFields

    enum CodingKeys: String, CodingKey { case type, title, status, detail }

    public init(_ status: HTTPResponse.Status, _ detail: String, type slug: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.title = status.reasonPhrase
        self.detail = detail
        self.type = "https://chatflow.dev/problems/" + (slug ?? status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "-"))
        self.headers = headers
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        try c.encode(title, forKey: .title)
        try c.encode(Int(status.code), forKey: .status)
        try c.encode(detail, forKey: .detail)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONResponse.encoder.encode(self)
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func invalid(_ detail: String) -> ProblemDetail { ProblemDetail(.badRequest, detail) }

    /// The whole answer, as bytes to write on a connection refused before any HTTP handler
    /// serves it (over a connection limit): this problem, `Retry-After`, the headers every
    /// answer carries, and the connection's end.
    func closingAnswer(retryAfterSeconds: Int) -> String {
        let body = String(decoding: (try? JSONResponse.encoder.encode(self)) ?? Data(), as: UTF8.self)
        return "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nContent-Type: application/problem+json\r\n"
            + "Retry-After: \(retryAfterSeconds)\r\n\(EveryAnswerHeaders.headLines)Connection: close\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    /// What a client sent, for a detail to quote: at most `limit` Unicode scalars of it (not
    /// characters, which can each hold any number of combining marks).
    static func quote(_ text: String, limit: Int = 64) -> String {
        text.unicodeScalars.count > limit ? String(String.UnicodeScalarView(text.unicodeScalars.prefix(limit))) + "…" : text
    }
    static func unauthorized(_ detail: String) -> ProblemDetail {
        ProblemDetail(.unauthorized, detail, headers: [.wwwAuthenticate: "Bearer"])
    }

    /// The one place domain and storage errors become HTTP.
    static func from(_ error: any Error) -> ProblemDetail? {
        switch error {
        case let problem as ProblemDetail:
            return problem
        case let domain as ChatFlowError:
            switch domain {
            case .invalid(let reason): return ProblemDetail(.badRequest, reason)
            case .notFound(let reason): return ProblemDetail(.notFound, reason)
            case .forbidden(let reason): return ProblemDetail(.forbidden, reason)
            case .conflict(let reason): return ProblemDetail(.conflict, reason)
            case .unavailable(let reason): return ProblemDetail(.serviceUnavailable, reason)
            }
        case let storage as StorageError:
            if case .noSpace = storage {
                return ProblemDetail(.serviceUnavailable, "the server's disk is full; writes are paused until space is freed, reads still work", type: "disk-full",
                                     headers: [.retryAfter: "30"])
            }
            if case .closed = storage { return ProblemDetail(.serviceUnavailable, "the server is shutting down; retry shortly") }
            return nil
        case is IOError, is ChannelError:
            // The client went away part way through its request (a reset, a close): there is
            // nobody to answer, and it is no fault of the server's to log as one.
            return ProblemDetail(.badRequest, "the connection ended before the request did", headers: [.connection: "close"])
        case is CancellationError:
            // A request cancelled while it waited (for its body, say): answered if its
            // connection is still open. At the end of a stop's grace period it is not, and
            // the client sees the connection close.
            return ProblemDetail(.serviceUnavailable, "the server is stopping; retry shortly", headers: [.retryAfter: "1", .connection: "close"])
        case let http as HTTPError:
            return ProblemDetail(http.status, http.body ?? http.status.reasonPhrase)
        case let parsing as HTTPParserError:
            // A body that breaks HTTP (a bad chunk size, one cut short) fails the route that
            // reads it: the client's mistake, not the server's.
            return ProblemDetail(.badRequest, "the request could not be parsed: \(parsing.debugDescription)", headers: [.connection: "close"])
        default:
            return nil
        }
    }
}
