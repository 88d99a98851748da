import Foundation
import HTTPTypes
import Hummingbird

/// Encodes API responses: JSON with sorted keys (stable output for clients and tests).
enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// 204; marked `Idempotent-Replayed` when a retry was answered from the first request.
    static func noContent(replayed: Bool = false) -> Response {
        Response(status: .noContent, headers: replayedHeader(replayed))
    }

    /// `Idempotent-Replayed: true` for a retry answered from the first request (by its
    /// `Idempotency-Key` or `clientMessageId`); nothing otherwise.
    static func replayedHeader(_ replayed: Bool) -> HTTPFields {
        replayed ? [HTTPField.Name("Idempotent-Replayed")!: "true"] : [:]
    }
}
