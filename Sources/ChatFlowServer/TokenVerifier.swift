import ChatFlowCore
import Foundation
import JWTKit

/// Checks bearer tokens: HS256 only (no other algorithm is registered, so `none` and
/// algorithm-confusion tokens fail), each part spelled as an encoder writes it, a valid
/// signature, `exp` in the future and `nbf` and `iat` in the past (within the leeway), the
/// configured `iss`, an `aud` only when it names the configured audience, and a
/// well-formed `sub`.
public struct TokenVerifier: Sendable {
    private let keys: JWTKeyCollection
    private let issuer: String?
    private let audience: String?
    private let leeway: TimeInterval
    /// The furthest ahead an `exp` may be, in seconds (nil: no bound).
    private let longestLifetime: TimeInterval?
    private let verified = VerifiedTokens()

    public init(configuration: ServerConfiguration) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: configuration.jwtSecret), digestAlgorithm: .sha256)
        issuer = configuration.jwtIssuer
        audience = configuration.jwtAudience
        leeway = TimeInterval(configuration.jwtLeewaySeconds)
        longestLifetime = configuration.jwtMaxDays == 0 ? nil : TimeInterval(configuration.jwtMaxDays) * 86400
    }

    /// The user and when this server stops accepting the token (Unix seconds: `exp` plus
    /// the leeway, so that an open WebSocket ends when a new request would be refused), or a
    /// 401 problem saying what is wrong.
    public func verify(_ token: String, now: Date = Date()) async throws -> (user: UserID, expires: Double) {
        if let remembered = remembered(token, now: now) { return remembered }
        // Not remembered, or no longer (or not yet) valid: the full check says why.
        let claims = try await verifiedClaims(token, now: now)
        let user = try Self.user(in: claims)
        verified.remember(token, .init(user: user, expires: claims.exp.value, notBefore: claims.nbf?.value))
        return (user, claims.exp.value.addingTimeInterval(leeway).timeIntervalSince1970)
    }

    /// `verify` for a token that passed it before and is still within `exp` and `nbf`,
    /// without suspending; nil otherwise (then `verify` decides).
    func remembered(_ token: String, now: Date = Date()) -> (user: UserID, expires: Double)? {
        guard let entry = verified.lookup(token), entry.expires.addingTimeInterval(leeway) > now,
              entry.notBefore.map({ $0.addingTimeInterval(-leeway) <= now }) ?? true else { return nil }
        return (entry.user, entry.expires.addingTimeInterval(leeway).timeIntervalSince1970)
    }

    /// The header must name HS256 and ask for nothing more. The one key checks the signature
    /// as HS256 whatever the header says, so a token claiming another algorithm could not be
    /// forged, but it is not what it says it is; and a `crit` extension this server does not
    /// know must be refused (RFC 7515 §4.1.11).
    private static func checkHeader(_ token: String) throws {
        guard let data = segment(0, of: token),
              let header = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ProblemDetail.unauthorized("the token is not valid: its header is not base64url-encoded JSON")
        }
        // Before anything is read from it: parsers disagree on which of two `alg`s counts
        // (RFC 7515 §4 lets a reader refuse the header), so it is refused, as a claim given
        // twice is.
        try checkStructure(data, of: "its header", giving: "its header gives")
        guard header["alg"] as? String == "HS256" else {
            throw ProblemDetail.unauthorized("the token is not valid: it must be signed with HS256 by this server")
        }
        guard header["crit"] == nil else {
            throw ProblemDetail.unauthorized("the token is not valid: it has critical header parameters (crit) this server does not know")
        }
    }

    /// Refuses a part of the token (`part`, as a detail names it) that gives a name twice
    /// or has a comma before a closing brace, which JSON parsers read differently.
    private static func checkStructure(_ json: Data, of part: String, giving gives: String) throws {
        switch JSONStructureScan.firstFinding(in: json) {
        case .repeatedName(let name):
            throw ProblemDetail.unauthorized("the token is not valid: \(gives) '\(ProblemDetail.quote(name))' more than once")
        case .trailingComma:
            throw ProblemDetail.unauthorized("the token is not valid: \(part) is not valid JSON (a comma before a closing brace)")
        case nil:
            break
        }
    }

    /// Part `index` of the token (0: the header, 1: the payload), decoded from base64url; nil
    /// when there is no such part or it is not base64url.
    private static func segment(_ index: Int, of token: String) -> Data? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard index < parts.count else { return nil }
        var base64 = parts[index].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }

    /// Whether `part` is base64url with no padding as an encoder writes it: no length that
    /// leaves a lone character, and no bits set in the last character past the last byte.
    static func isCanonicalBase64URL(_ part: Substring) -> Bool {
        let unusedBits: UInt8
        switch part.utf8.count % 4 {
        case 0: return true
        case 1: return false
        case 2: unusedBits = 0b1111
        default: unusedBits = 0b11
        }
        let value: UInt8
        switch part.utf8.last! {
        case let c where (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c): value = c - UInt8(ascii: "A")
        case let c where (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c): value = c - UInt8(ascii: "a") + 26
        case let c where (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c): value = c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): value = 62
        case UInt8(ascii: "_"): value = 63
        default: return true  // not base64url at all: the decoder says so
        }
        return value & unusedBits == 0
    }

    /// What is wrong with the claims of a token the JWT library could not read, in words:
    /// its errors say only "malformed".
    private static func payloadProblem(_ token: String) -> String? {
        guard let data = segment(1, of: token),
              let claims = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return nil }
        guard let exp = claims["exp"] else { return "it has no exp claim; this server needs one (chatflow token sets it)" }
        guard exp is NSNumber else { return "its exp claim must be a number of seconds since 1970" }
        guard claims["sub"] is String else { return "its sub claim must be a user id as a string" }
        return nil
    }

    /// Passes only a valid token minted with `--admin`; 401 or 403 otherwise.
    public func requireAdmin(_ token: String?, now: Date = Date()) async throws {
        guard let token else { throw ProblemDetail.unauthorized("send an operator's token: chatflow token --admin") }
        let claims = try await verifiedClaims(token, now: now)
        guard claims.scope == "admin" else {
            throw ProblemDetail(.forbidden, "this needs an operator's token (chatflow token --admin)")
        }
    }

    private func verifiedClaims(_ token: String, now: Date) async throws -> ChatFlowClaims {
        // A JWS segment is base64url without padding (RFC 7515 §2); the decoder takes it
        // with `=` too, and one token would have several spellings.
        guard !token.contains("=") else {
            throw ProblemDetail.unauthorized("the token is not valid: its parts are base64url without '=' padding")
        }
        // Nor with bits set past the last byte, which the decoder drops: a signature's last
        // character could be written four ways.
        guard token.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(Self.isCanonicalBase64URL) else {
            throw ProblemDetail.unauthorized("the token is not valid: a part of it is not base64url as an encoder writes it")
        }
        try Self.checkHeader(token)
        let claims: ChatFlowClaims
        do {
            claims = try await keys.verify(token, as: ChatFlowClaims.self)
        } catch let error as JWTError {
            throw ProblemDetail.unauthorized("the token is not valid: \(Self.payloadProblem(token) ?? Self.reason(error))")
        } catch {
            throw ProblemDetail.unauthorized("the token is not valid: \(Self.payloadProblem(token) ?? "it could not be read (missing or malformed claims such as exp)")")
        }
        // Signed by this server's secret, but read first-wins: a claim given twice could be
        // read otherwise by another service, as a body's field could.
        if let payload = Self.segment(1, of: token) {
            try Self.checkStructure(payload, of: "its payload", giving: "it gives the claim")
        }
        guard claims.exp.value.addingTimeInterval(leeway) > now else {
            throw ProblemDetail.unauthorized("the token expired at \(Self.describe(claims.exp.value)); get a new one")
        }
        if let longestLifetime, claims.exp.value > now.addingTimeInterval(longestLifetime + leeway) {
            throw ProblemDetail.unauthorized("the token expires at \(Self.describe(claims.exp.value)), more than \(Int(longestLifetime / 86400)) days from now; this server takes tokens of at most that (CHATFLOW_JWT_MAX_DAYS)")
        }
        if let nbf = claims.nbf, nbf.value.addingTimeInterval(-leeway) > now {
            throw ProblemDetail.unauthorized("the token is not valid before \(Self.describe(nbf.value))")
        }
        if let issuer, claims.iss?.value != issuer {
            throw ProblemDetail.unauthorized("the token was not issued by \(issuer)")
        }
        if let iat = claims.iat, iat.value.addingTimeInterval(-leeway) > now {
            throw ProblemDetail.unauthorized("the token says it was issued at \(Self.describe(iat.value)), which has not come yet; check the issuer's clock")
        }
        if let audience, !(claims.aud?.value.contains(audience) ?? false) {
            throw ProblemDetail.unauthorized("the token is not meant for \(audience)")
        }
        // A token naming its audience is meant for that service alone (RFC 7519 §4.1.3):
        // with no audience of its own configured, this server is none of them.
        if audience == nil, let named = claims.aud?.value, !named.isEmpty {
            throw ProblemDetail.unauthorized("the token is meant for \(ProblemDetail.quote(named.joined(separator: ", "))); this server takes tokens with an audience only when CHATFLOW_JWT_AUDIENCE names it")
        }
        _ = try Self.user(in: claims)
        return claims
    }

    /// A claim's time as RFC 3339 (as the API writes times), also for times no calendar
    /// formats (`Date`'s own description gave "<description unavailable>" for them).
    private static func describe(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        guard seconds.isFinite, (0..<253_402_300_800).contains(seconds) else { return "\(seconds) s after 1970 (outside years 1970–9999)" }
        return RFC3339.format(milliseconds: UInt64(seconds * 1000))
    }

    private static func user(in claims: ChatFlowClaims) throws -> UserID {
        do {
            return try UserID(validating: claims.sub.value)
        } catch {
            // The rule it broke: "." is of the right characters, and refused for another reason.
            throw ProblemDetail.unauthorized("the token's sub is not a user id: \(error.detail)")
        }
    }

    /// Mints a token for `user` (for `chatflow token` and tests).
    public func sign(user: String, ttl: TimeInterval, issuer: String? = nil, audience: String? = nil, admin: Bool = false) async throws -> String {
        try await keys.sign(ChatFlowClaims(
            subject: user, expires: Date().addingTimeInterval(ttl), issuer: issuer ?? self.issuer,
            audience: audience ?? self.audience, scope: admin ? "admin" : nil))
    }

    private static func reason(_ error: JWTError) -> String {
        let text = "\(error)"
        if text.contains("signature") { return "the signature does not match" }
        if text.contains("alg") || text.contains("unknown kid") || text.contains("missing") { return "it must be signed with HS256 by this server" }
        if text.contains("malformed") || text.contains("format") { return "it is malformed" }
        return "it could not be verified"
    }
}
