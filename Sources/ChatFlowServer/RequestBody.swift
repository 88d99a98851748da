import Foundation
import Hummingbird
import NIOCore

/// Reads and decodes JSON request bodies with the server's limits: a body over the limit is
/// refused (413) as soon as it is known to be too large, without reading the rest, and a
/// decoding failure names the field at fault.
enum RequestBody {
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        // A body labelled as something else (a form, text) was not meant as this JSON; one
        // with no label is read as JSON, as clients that omit it mean.
        if let label = request.headers[.contentType], !isJSON(label) {
            throw ProblemDetail(.unsupportedMediaType, "the body must be JSON in UTF-8, sent with Content-Type: application/json (not \(ProblemDetail.quote(label)))")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw ProblemDetail(.contentTooLarge, "the request body is \(length) bytes; the limit is \(limit) bytes")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw ProblemDetail(.contentTooLarge, "the request body exceeds the limit of \(limit) bytes")
        }
        guard buffer.readableBytes > 0 else {
            throw ProblemDetail.invalid("the request needs a JSON body")
        }
        let json = Data(buffer: buffer)
        if let problem = problem(with: json) { throw problem }
        do {
            return try JSONDecoder().decode(T.self, from: json)
        } catch let error as DecodingError {
            throw ProblemDetail.invalid(describe(error))
        }
    }

    /// Whether a Content-Type names JSON: `application/json` or an `application/…+json`
    /// type, with no charset but UTF-8 (the body is read as UTF-8; one labelled otherwise
    /// was encoded otherwise, or mislabelled).
    static func isJSON(_ contentType: String) -> Bool {
        let parts = contentType.split(separator: ";", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let mediaType = parts[0]
        let subtype = mediaType.hasPrefix("application/") ? mediaType.dropFirst("application/".count) : ""
        guard subtype == "json" || subtype.count > 5 && subtype.hasSuffix("+json")
                && subtype.dropLast(5).allSatisfy({ $0.isLetter && $0.isASCII || $0.isNumber && $0.isASCII || ".-_".contains($0) })
        else { return false }
        for parameter in parts.dropFirst() where parameter.hasPrefix("charset=") {
            let charset = parameter.dropFirst("charset=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            if charset != "utf-8" && charset != "utf8" { return false }
        }
        return true
    }

    /// What is wrong with `json` before it is decoded: not valid JSON anywhere (the decoder
    /// does not read the fields its type ignores, so a lone surrogate, a control character
    /// or `01` there passed), a field given twice, or a trailing comma.
    static func problem(with json: Data, in what: String = "the body") -> ProblemDetail? {
        // UTF-8 only (RFC 8259 §8.1). `JSONSerialization` also reads UTF-16 and UTF-32, told by
        // a byte-order mark or by zero bytes, while the duplicate scan reads UTF-8: a body one
        // reads as UTF-16 must not reach the other. Valid UTF-8 JSON holds no zero byte.
        guard !json.contains(0), String(data: json, encoding: .utf8) != nil else {
            return .invalid("\(what) must be JSON in UTF-8")
        }
        do {
            _ = try JSONSerialization.jsonObject(with: json, options: .fragmentsAllowed)
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            return .invalid("\(what) is not valid JSON" + (reason.map { ": " + $0 } ?? ""))
        }
        switch JSONStructureScan.firstFinding(in: json) {
        case .repeatedName(let name):
            return .invalid("field '\(ProblemDetail.quote(name))' is given more than once; send each field once")
        case .trailingComma:
            return .invalid("\(what) is not valid JSON: a comma before a closing bracket or brace")
        case nil:
            return nil
        }
    }

    /// A decoding error in words: which field, and what was wrong with it.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context.codingPath)
            return "missing required field '\(parent.isEmpty ? key.stringValue : parent + "." + key.stringValue)'"
        case .typeMismatch(let type, let context):
            if context.codingPath.isEmpty { return "the body must be a JSON object" }
            return "field '\(path(context.codingPath))' must be \(typeName(type))"
        case .valueNotFound(let type, let context):
            if context.codingPath.isEmpty { return "the body must be a JSON object" }
            return "field '\(path(context.codingPath))' must be \(typeName(type)), not null"
        case .dataCorrupted(let context):
            // The parser's words may quote the input (a number of thousands of digits).
            let why = ProblemDetail.quote(context.debugDescription, limit: 200)
            let field = path(context.codingPath)
            if field.isEmpty { return "the body is not valid JSON: \(why)" }
            return "field '\(ProblemDetail.quote(field))' is invalid: \(why)"
        @unknown default:
            return "the body could not be decoded"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Double.Type: "a number"
        default: "\(type)"
        }
    }
}
