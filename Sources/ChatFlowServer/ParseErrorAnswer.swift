import Foundation
import NIOCore
import NIOHTTP1

/// Makes the answer to a request that cannot be parsed as HTTP/1.1 a problem like every
/// other error (SPEC §3): NIO, for a connection's first request, and Hummingbird, for a later
/// one, each answer it with a bare 400, with no body and none of `EveryAnswerHeaders`.
/// Sits right after the request decoder, so it hears the parser's error before either of
/// them answers, and then gives that answer a problem's head and body (431 for headers too
/// large). Taken out when the connection becomes a WebSocket.
final class ParseErrorAnswer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The problem to answer the request that could not be parsed with, until its answer goes out.
    private var problem: ProblemDetail?

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError { problem = Self.problem(for: error) }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Only the bare answer made for the parser's error: every answer of the routes has a type.
        guard let problem, case .head(var head) = unwrapOutboundIn(data), head.status == .badRequest,
              !head.headers.contains(name: "Content-Type") else {
            context.write(data, promise: promise)
            return
        }
        self.problem = nil
        let body = context.channel.allocator.buffer(bytes: (try? JSONResponse.encoder.encode(problem)) ?? Data())
        head.status = HTTPResponseStatus(statusCode: Int(problem.status.code))
        head.headers.replaceOrAdd(name: "Content-Type", value: "application/problem+json")
        head.headers.replaceOrAdd(name: "Content-Length", value: "\(body.readableBytes)")
        head.headers.replaceOrAdd(name: "Connection", value: "close")
        // As `RequestHeadCheck`'s refusals and Hummingbird's own answers carry.
        head.headers.replaceOrAdd(name: "Date", value: RequestHeadCheck.httpDate(Date()))
        head.headers.replaceOrAdd(name: "Server", value: "chatflow")
        for field in EveryAnswerHeaders.fields { head.headers.replaceOrAdd(name: field.name, value: field.value) }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: promise)
    }

    private static func problem(for error: HTTPParserError) -> ProblemDetail {
        let why: String? = switch error {
        case .headerOverflow: "its head (or its body's trailers) is larger than the server takes"
        case .invalidCharactersUsed, .invalidHeaderToken: "it holds characters HTTP does not allow where they are"
        case .invalidMethod: "its method is not one HTTP knows"
        case .invalidVersion: "its HTTP version is not HTTP/1.0 or HTTP/1.1"
        case .invalidURL: "its target is not a valid path"
        case .invalidContentLength, .unexpectedContentLength: "its Content-Length is not valid"
        case .invalidChunkSize: "a chunk of its body has no valid size"
        default: nil
        }
        let detail = "the request could not be parsed as HTTP/1.1" + (why.map { ": " + $0 } ?? "")
        return ProblemDetail(error == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest, detail)
    }
}
