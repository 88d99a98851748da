import ChatFlowCore
import ChatFlowServer
import ChatFlowTestSupport
import Foundation
import HTTPTypes
import JWTKit
import Testing

/// Forged and expired tokens are refused; a short secret is refused at start.
@Suite(.timeLimit(.minutes(2))) struct JWTTests {
    private func base64url(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private func unsigned(_ claims: [String: Any], alg: String) throws -> String {
        let header = base64url(try JSONSerialization.data(withJSONObject: ["alg": alg, "typ": "JWT"]))
        let payload = base64url(try JSONSerialization.data(withJSONObject: claims))
        return "\(header).\(payload)."
    }

    private func status(_ server: TestServer, token: String) async throws -> Int {
        try await server.call(.get, "/chats", as: nil, headers: [.authorization: "Bearer \(token)"]).status
    }

    @Test func forgedTokensAreRefused() async throws {
        try await TestServer.run { server in
            let now = Date().timeIntervalSince1970
            // alg: none
            #expect(try await status(server, token: try unsigned(["sub": "alice", "exp": now + 3600], alg: "none")) == 401)
            // A valid-looking token signed with another key.
            let other = await TokenVerifier(configuration: ServerConfiguration(jwtSecret: String(repeating: "x", count: 40)))
            #expect(try await status(server, token: try await other.sign(user: "alice", ttl: 3600)) == 401)
            // Expired (beyond the leeway).
            #expect(try await status(server, token: try await server.token("alice", ttl: -120)) == 401)
            // A tampered payload keeps the old signature.
            let good = try await server.token("alice")
            let parts = good.split(separator: ".")
            let forged = parts[0] + "." + base64url(try JSONSerialization.data(withJSONObject: ["sub": "admin", "exp": now + 3600])) + "." + parts[2]
            #expect(try await status(server, token: String(forged)) == 401)
            #expect(try await status(server, token: good) == 200)
        }
    }

    /// A token verified once is remembered, but never past its `exp` or before its `nbf`.
    /// Open routes answer whatever `Authorization` header a probe or a proxy sends; the
    /// routes that need a user refuse the same header with the reason, and write nothing.
    @Test func aBadTokenIsRefusedOnlyWhereAUserIsNeeded() async throws {
        try await TestServer.run { server in
            let before = server.engine.log.lastPosition
            for header in ["Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "garbage"] {
                for path in ["/healthz", "/readyz", "/metrics", "/openapi.yaml"] {
                    let reply = try await server.call(.get, path, as: nil, headers: [.authorization: header])
                    #expect(reply.status == 200, "\(path) with \(header): \(reply.status) \(reply.text.prefix(200))")
                }
                let chats = try await server.call(.get, "/chats", as: nil, headers: [.authorization: header])
                #expect(chats.status == 401)
                let reason = header.hasPrefix("Bearer") ? "token is not valid" : "Authorization: Bearer <token>"
                #expect(chats.string("detail")?.contains(reason) == true, "\(chats.text)")
                let create = try await server.call(.post, "/chats", as: nil, json: #"{"name":"x"}"#, headers: [.authorization: header])
                #expect(create.status == 401, "\(create.text)")
            }
            let expired = try await server.call(.get, "/chats", as: nil, headers: [.authorization: "Bearer \(try await server.token("alice", ttl: -120))"])
            #expect(expired.status == 401 && expired.string("detail")?.contains("expired") == true, "\(expired.text)")
            #expect(server.engine.log.lastPosition == before)
        }
    }

    /// A good token sent without the Bearer scheme, or in another scheme, is refused with
    /// what to send, over HTTP and for a WebSocket alike; `bearer` in any case is accepted.
    @Test func aTokenMustComeAsBearer() async throws {
        try await TestServer.run { server in
            let token = try await server.token("alice")
            for header in [token, "Token \(token)", "Basic \(token)", "Bearer", "Bearer   "] {
                let reply = try await server.call(.get, "/chats", as: nil, headers: [.authorization: header])
                #expect(reply.status == 401, "\(header.prefix(12)): \(reply.status)")
                #expect(reply.text.contains("Bearer"), "\(reply.text)")
            }
            #expect(try await server.call(.get, "/chats", as: nil, headers: [.authorization: "bearer \(token)"]).status == 200)
            let upgrade = try await StalledClient.exchange(port: server.port, request:
                "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: \(token)\r\n\r\n")
            #expect(upgrade.head.hasPrefix("HTTP/1.1 401"), "\(upgrade.head)")
            #expect(upgrade.body.contains("Authorization: Bearer <token>"), "\(upgrade.body)")
            // A browser behind a proxy's Basic login sends that beside the query's token.
            let behindProxy = try await StalledClient.exchange(port: server.port, request:
                "GET /ws?access_token=\(token) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n")
            #expect(behindProxy.head.hasPrefix("HTTP/1.1 101"), "\(behindProxy.head)")
            // Two different tokens, one in the header and one in the query, name no one user.
            let bob = try await server.token("bob")
            for query in [bob, token] {
                let both = try await StalledClient.exchange(port: server.port, request:
                    "GET /ws?access_token=\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                        + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer \(token)\r\n\r\n")
                let same = query == token
                #expect(both.head.hasPrefix(same ? "HTTP/1.1 101" : "HTTP/1.1 401"), "same token: \(same): \(both.head)")
                if !same { #expect(both.body.contains("two different tokens"), "\(both.body)") }
            }
            let twoHeaders = try await StalledClient.exchange(port: server.port, request:
                "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer \(token)\r\nAuthorization: Bearer \(bob)\r\n\r\n")
            #expect(twoHeaders.head.hasPrefix("HTTP/1.1 401") && twoHeaders.body.contains("one Authorization header"), "\(twoHeaders.head) \(twoHeaders.body)")
            // The token's name escaped (which a proxy's log redaction would not know), or the
            // token twice, is refused as the router refuses it.
            for query in ["acc%65ss_token=\(token)", "access_token=\(token)&x%41=1", "access_token=\(token)&access_token=\(token)"] {
                let refused = try await StalledClient.exchange(port: server.port, request:
                    "GET /ws?\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                        + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
                #expect(refused.head.hasPrefix("HTTP/1.1 400") && (refused.body.contains("percent-escapes") || refused.body.contains("given 2 times")), "\(query.prefix(20)): \(refused.head) \(refused.body)")
            }
        }
    }

    @Test func aRememberedTokenStillExpires() async throws {
        let verifier = await TokenVerifier(configuration: {
            var configuration = ServerConfiguration(jwtSecret: TestServer.secret)
            configuration.jwtLeewaySeconds = 0
            return configuration
        }())
        let token = try await verifier.sign(user: "alice", ttl: 60)
        let now = Date()
        #expect(try await verifier.verify(token, now: now).user.rawValue == "alice")
        #expect(try await verifier.verify(token, now: now.addingTimeInterval(30)).user.rawValue == "alice")
        await #expect(throws: (any Error).self, "a remembered token was accepted after it expired") {
            _ = try await verifier.verify(token, now: now.addingTimeInterval(61))
        }

        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: TestServer.secret), digestAlgorithm: .sha256)
        let later = try await keys.sign(RawClaims(
            sub: "bob", exp: now.timeIntervalSince1970 + 600, nbf: now.timeIntervalSince1970 + 300))
        #expect(try await verifier.verify(later, now: now.addingTimeInterval(400)).user.rawValue == "bob")
        await #expect(throws: (any Error).self, "a remembered token was accepted before its nbf") {
            _ = try await verifier.verify(later, now: now)
        }
    }

    @Test func claimsAreChecked() async throws {
        try await TestServer.run { server in
            let now = Date().timeIntervalSince1970
            // Minted times are whole seconds, which every JWT library reads.
            let minted = try await server.token("alice").split(separator: ".")[1]
            var payload = minted.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            payload += String(repeating: "=", count: (4 - payload.count % 4) % 4)
            let payloadBytes = try #require(Data(base64Encoded: payload))
            let mintedClaims = try #require(try JSONSerialization.jsonObject(with: payloadBytes) as? [String: Any])
            for claim in ["exp", "iat"] {
                let value = try #require(mintedClaims[claim] as? Double, "\(claim) in \(mintedClaims)")
                #expect(value == value.rounded(.down), "\(claim) \(value)")
            }
            let keys = JWTKeyCollection()
            await keys.add(hmac: HMACKey(from: TestServer.secret), digestAlgorithm: .sha256)
            let sign = { (claims: [String: Any]) async throws -> String in
                try await keys.sign(RawClaims(sub: claims["sub"] as? String, exp: claims["exp"] as? Double, nbf: claims["nbf"] as? Double))
            }
            // Missing exp, said in words.
            let noExp = try await sign(["sub": "alice"])
            let refusedNoExp = try await server.call(.get, "/chats", as: nil, headers: [.authorization: "Bearer \(noExp)"])
            #expect(refusedNoExp.status == 401 && refusedNoExp.string("detail")?.contains("no exp claim") == true, "\(refusedNoExp.text)")
            // A claim given twice, which JWT libraries read differently, though signed.
            let key = try await keys.getKey()
            // Signed as the JSON text it holds, byte for byte: what an encoder would never
            // write (a claim twice), as another JWT library or a hand-made token may.
            func signed(_ json: String, header: String = #"{"alg":"HS256","typ":"JWT"}"#) throws -> String {
                let input = base64url(Data(header.utf8)) + "." + base64url(Data(json.utf8))
                return input + "." + base64url(Data(try key.sign(Array(input.utf8))))
            }
            // So is a header field: which `alg` counts is read differently too.
            for header in [#"{"alg":"none","alg":"HS256"}"#, #"{"alg":"HS256","alg":"none"}"#, #"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#] {
                let token = try signed(#"{"sub":"alice","exp":\#(Int(now) + 3600)}"#, header: header)
                let refused = try await server.call(.get, "/chats", as: nil, headers: [.authorization: "Bearer \(token)"])
                #expect(refused.status == 401 && refused.string("detail")?.contains("its header gives") == true, "\(header): \(refused.text)")
            }
            let twice = try signed(#"{"sub":"alice","sub":"bob","exp":\#(Int(now) + 3600)}"#)
            let refusedTwice = try await server.call(.get, "/chats", as: nil, headers: [.authorization: "Bearer \(twice)"])
            #expect(refusedTwice.status == 401 && refusedTwice.string("detail")?.contains("'sub' more than once") == true, "\(refusedTwice.text)")
            let trailing = try signed(#"{"sub":"alice","exp":\#(Int(now) + 3600),}"#)
            #expect(try await status(server, token: trailing) == 401, "a payload that is not JSON, though the JWT library reads it")
            let once = try signed(#"{"sub":"alice","exp":\#(Int(now) + 3600)}"#)
            let onceReply = try await server.call(.get, "/chats", as: nil, headers: [.authorization: "Bearer \(once)"])
            #expect(onceReply.status == 200, "the same token with each claim once is fine: \(onceReply.text) \(once)")
            #expect(try await status(server, token: once + "=") == 401, "a padded spelling of a good token")
            // The signature's last character with the bits past its last byte set: the
            // decoder reads the same bytes, but it is another spelling of the token.
            let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
            let last = try #require(alphabet.firstIndex(of: once.last!))
            let respelled = String(once.dropLast()) + String(alphabet[last | 1])
            #expect(alphabet[last | 1] != once.last!, "a 32-byte signature leaves two unused bits")
            let refusedRespelled = try await server.call(.get, "/chats", as: nil, headers: [.authorization: "Bearer \(respelled)"])
            #expect(refusedRespelled.status == 401 && refusedRespelled.string("detail")?.contains("as an encoder writes it") == true, "\(refusedRespelled.text)")
            // Issued in the future, or meant for another service while this one names none.
            let issuedLater = try signed(#"{"sub":"alice","exp":\#(Int(now) + 3600),"iat":\#(Int(now) + 600)}"#)
            let refusedLater = try await server.call(.get, "/chats", as: nil, headers: [.authorization: "Bearer \(issuedLater)"])
            #expect(refusedLater.status == 401 && refusedLater.string("detail")?.contains("has not come yet") == true, "\(refusedLater.text)")
            #expect(try await status(server, token: try signed(#"{"sub":"alice","exp":\#(Int(now) + 3600),"iat":\#(Int(now) - 600)}"#)) == 200)
            let elsewhere = try signed(#"{"sub":"alice","exp":\#(Int(now) + 3600),"aud":"billing"}"#)
            let refusedElsewhere = try await server.call(.get, "/chats", as: nil, headers: [.authorization: "Bearer \(elsewhere)"])
            #expect(refusedElsewhere.status == 401 && refusedElsewhere.string("detail")?.contains("meant for billing") == true, "\(refusedElsewhere.text)")
            // nbf in the future (beyond the leeway), said as a time; also one no calendar holds.
            let futureNotBefore = try await sign(["sub": "alice", "exp": now + 3600, "nbf": now + 600])
            let notYet = try await server.call(.get, "/chats", as: nil, headers: [.authorization: "Bearer \(futureNotBefore)"])
            #expect(notYet.status == 401 && notYet.string("detail")?.contains(RFC3339.format(milliseconds: UInt64(now + 600) * 1000).prefix(13)) == true, "\(notYet.text)")
            let farFuture = try await sign(["sub": "alice", "exp": now + 3600, "nbf": 1e300])
            let never = try await server.call(.get, "/chats", as: nil, headers: [.authorization: "Bearer \(farFuture)"])
            #expect(never.status == 401 && never.string("detail")?.contains("outside years") == true, "\(never.text)")
            // An exp further ahead than CHATFLOW_JWT_MAX_DAYS (366): such a token could
            // never be revoked but by a new secret.
            let forever = try await sign(["sub": "alice", "exp": now + 400 * 86400])
            let refusedForever = try await server.call(.get, "/chats", as: nil, headers: [.authorization: "Bearer \(forever)"])
            #expect(refusedForever.status == 401 && refusedForever.string("detail")?.contains("more than 366 days from now") == true, "\(refusedForever.text)")
            #expect(try await status(server, token: try await sign(["sub": "alice", "exp": now + 365 * 86400])) == 200)
            // A sub that is not a user id.
            let badSubject = try await sign(["sub": "bad user!", "exp": now + 3600])
            #expect(try await status(server, token: badSubject) == 401)
            // "." is of the allowed characters: the refusal says why it is not an id.
            let dot = try await sign(["sub": ".", "exp": now + 3600])
            let refusedDot = try await server.call(.get, "/chats", as: nil, headers: [.authorization: "Bearer \(dot)"])
            #expect(refusedDot.status == 401 && refusedDot.string("detail")?.contains("cannot be '.' or '..'") == true, "\(refusedDot.text)")
            let valid = try await sign(["sub": "alice", "exp": now + 3600, "nbf": now - 10])
            #expect(try await status(server, token: valid) == 200)
            // Signed as HS256, but the header says otherwise or asks for an unknown extension.
            let claims = RawClaims(sub: "alice", exp: now + 3600, nbf: nil)
            for header: JWTHeader in [["alg": "HS512"], ["alg": "none"], ["alg": "HS256", "crit": ["exp"]]] {
                let token = try await keys.sign(claims, header: header)
                #expect(try await status(server, token: token) == 401, "\(header)")
            }
        }
    }

    @Test func aShortSecretIsRefusedAtStart() throws {
        let error = #expect(throws: ConfigurationError.self) {
            try ServerConfiguration(jwtSecret: "too-short").validate()
        }
        #expect(error?.description.contains("at least 32 bytes") == true)
    }
}

/// Claims exactly as given, for signing tokens the server must refuse.
private struct RawClaims: JWTPayload {
    let sub: String?
    let exp: Double?
    let nbf: Double?
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

