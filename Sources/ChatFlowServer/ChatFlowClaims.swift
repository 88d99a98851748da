import ChatFlowCore
import Foundation
import JWTKit

/// The token's claims: `sub` is the user id; `exp` is required; `nbf`, `iss` and `aud`
/// are honoured when present (and `iss`/`aud` required when the server is configured with them).
public struct ChatFlowClaims: JWTPayload, Equatable {
    public var sub: SubjectClaim
    public var exp: ExpirationClaim
    public var nbf: NotBeforeClaim?
    public var iat: IssuedAtClaim?
    public var iss: IssuerClaim?
    public var aud: AudienceClaim?
    /// `admin` for operators' tokens (`chatflow token --admin`), which may call `/admin/…`.
    public var scope: String?

    public init(subject: String, expires: Date, issuer: String? = nil, audience: String? = nil, issuedAt: Date = Date(), scope: String? = nil) {
        self.scope = scope
        sub = SubjectClaim(value: subject)
        // Whole seconds: NumericDate may have a fraction, but some JWT libraries refuse one.
        exp = ExpirationClaim(value: Date(timeIntervalSince1970: expires.timeIntervalSince1970.rounded(.down)))
        iat = IssuedAtClaim(value: Date(timeIntervalSince1970: issuedAt.timeIntervalSince1970.rounded(.down)))
        iss = issuer.map { IssuerClaim(value: $0) }
        aud = audience.map { AudienceClaim(value: [$0]) }
    }

    /// Signature checks happen in jwt-kit; the time and audience rules are checked by
    /// `TokenVerifier`, which knows the configured leeway, issuer and audience.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}
