import Foundation
import Testing

@testable import SentinelAuth

private let now: Int64 = 1_800_000_000

private func claims(exp: Int64? = now + 300, nbf: Int64? = nil, extra: String = "") -> String {
    var parts = [#""sub":"user-42""#]
    if let exp { parts.append(#""exp":\#(exp)"#) }
    if let nbf { parts.append(#""nbf":\#(nbf)"#) }
    if !extra.isEmpty { parts.append(extra) }
    return "{" + parts.joined(separator: ",") + "}"
}

private func hsVerifier(_ edit: (inout JWTVerifier) -> Void = { _ in }) throws -> JWTVerifier {
    var v = JWTVerifier(keys: [try .hmac(Array(JWTFixtures.secret.utf8))])
    edit(&v)
    return v
}

private func reason(_ r: Result<[String: JSONClaim], JWTError>) -> String? {
    if case .failure(let e) = r { return e.description }
    return nil
}

@Suite struct JWTVerifierTests {
    @Test func hs256ValidTokenGivesItsClaims() throws {
        let r = try hsVerifier().verify(JWTFixtures.hs256(claims())[...], now: now)
        #expect(try r.get()["sub"] == .string("user-42"))
    }

    @Test func hs256WrongSecretTamperingAndNoneAreRefused() throws {
        let v = try hsVerifier()
        #expect(reason(v.verify(JWTFixtures.hs256(claims(), secret: "another-secret-of-at-least-32-bytes!!")[...], now: now)) == "invalid signature")
        let token = JWTFixtures.hs256(claims())
        let parts = token.split(separator: ".")
        let forged = parts[0] + "." + JWTFixtures.b64(#"{"sub":"admin","exp":1900000000}"#) + "." + parts[2]
        #expect(reason(v.verify(forged[...], now: now)) == "invalid signature")
        let none = JWTFixtures.b64(#"{"alg":"none"}"#) + "." + JWTFixtures.b64(claims()) + "."
        #expect(reason(v.verify(none[...], now: now)) == "unsupported algorithm")
        #expect(reason(v.verify("a.b"[...], now: now)) == "malformed token")
        #expect(reason(v.verify("!!.e30.e30"[...], now: now)) == "malformed token")
        #expect(reason(v.verify(String(repeating: "a", count: 20_000)[...], now: now)) == "token too long")
    }

    @Test func expiryAndNotBeforeHonourTheLeeway() throws {
        let v = try hsVerifier()   // leeway 60 s
        #expect(reason(v.verify(JWTFixtures.hs256(claims(exp: now - 30))[...], now: now)) == nil)
        #expect(reason(v.verify(JWTFixtures.hs256(claims(exp: now - 61))[...], now: now)) == "token expired")
        #expect(reason(v.verify(JWTFixtures.hs256(claims(nbf: now + 30))[...], now: now)) == nil)
        #expect(reason(v.verify(JWTFixtures.hs256(claims(nbf: now + 61))[...], now: now)) == "token not yet valid")
        #expect(reason(v.verify(JWTFixtures.hs256(claims(exp: nil))[...], now: now)) == "token has no expiry")
        let strict = try hsVerifier { $0.leeway = 0; $0.requireExpiry = false }
        #expect(reason(strict.verify(JWTFixtures.hs256(claims(exp: nil))[...], now: now)) == nil)
        #expect(reason(strict.verify(JWTFixtures.hs256(claims(exp: now))[...], now: now)) == "token expired")
        #expect(reason(v.verify(JWTFixtures.hs256(#"{"sub":"x","exp":"soon"}"#)[...], now: now)) == "malformed exp claim")
    }

    @Test func issuerAndAudience() throws {
        let v = try hsVerifier { $0.issuers = ["https://id.example"]; $0.audiences = ["api", "admin"] }
        let good = claims(extra: #""iss":"https://id.example","aud":["web","api"]"#)
        #expect(reason(v.verify(JWTFixtures.hs256(good)[...], now: now)) == nil)
        let single = claims(extra: #""iss":"https://id.example","aud":"admin""#)
        #expect(reason(v.verify(JWTFixtures.hs256(single)[...], now: now)) == nil)
        let wrongIss = claims(extra: #""iss":"https://evil.example","aud":"api""#)
        #expect(reason(v.verify(JWTFixtures.hs256(wrongIss)[...], now: now)) == "wrong issuer")
        let wrongAud = claims(extra: #""iss":"https://id.example","aud":["web"]"#)
        #expect(reason(v.verify(JWTFixtures.hs256(wrongAud)[...], now: now)) == "wrong audience")
        let noAud = claims(extra: #""iss":"https://id.example""#)
        #expect(reason(v.verify(JWTFixtures.hs256(noAud)[...], now: now)) == "wrong audience")
    }

    @Test func rs256WithAPEMKeyOrACertificate() throws {
        let token = JWTFixtures.signed(claims(), alg: "RS256", key: "rsa.key")
        for pem in ["rsa.pub", "rsa.crt"] {
            let v = JWTVerifier(keys: [try .pem(JWTFixtures.file(pem))])
            #expect(reason(v.verify(token[...], now: now)) == nil, "\(pem)")
        }
        let ecOnly = JWTVerifier(keys: [try .pem(JWTFixtures.file("ec.pub"))])
        #expect(reason(ecOnly.verify(token[...], now: now)) == "no key for this token")
    }

    @Test func es256WithAPEMKey() throws {
        let token = JWTFixtures.signed(claims(), alg: "ES256", key: "ec.key")
        let v = JWTVerifier(keys: [try .pem(JWTFixtures.file("ec.pub"))])
        #expect(reason(v.verify(token[...], now: now)) == nil)
        // The DER form (what OpenSSL emits) is not a JWS signature.
        let parts = token.split(separator: ".")
        let der = DER.ecdsaSignature(raw: Base64URL.decode(parts[2])!, half: 32)!
        let derToken = parts[0] + "." + parts[1] + "." + Base64URL.encode(der)
        #expect(reason(v.verify(derToken[...], now: now)) == "invalid signature")
    }

    @Test func jwksKeysAreChosenByKid() throws {
        let keys = try JWTKey.jwks(JWTFixtures.jwks)
        #expect(keys.count == 2)   // the "enc" key is skipped
        let v = JWTVerifier(keys: keys)
        #expect(reason(v.verify(JWTFixtures.signed(claims(), alg: "RS256", key: "rsa.key", kid: "r1")[...], now: now)) == nil)
        #expect(reason(v.verify(JWTFixtures.signed(claims(), alg: "ES256", key: "ec.key", kid: "e1")[...], now: now)) == nil)
        #expect(reason(v.verify(JWTFixtures.signed(claims(), alg: "ES256", key: "ec.key", kid: "r1")[...], now: now)) == "no key for this token")
        #expect(reason(v.verify(JWTFixtures.signed(claims(), alg: "RS256", key: "rsa.key", kid: "zz")[...], now: now)) == "no key for this token")
    }

    @Test func anRSAPublicKeyIsNeverUsedAsAnHMACSecret() throws {
        // Algorithm confusion: an HS256 token "signed" with the public key's PEM text.
        let pem = String(decoding: JWTFixtures.file("rsa.pub"), as: UTF8.self)
        let forged = JWTFixtures.hs256(claims(), secret: pem)
        let v = JWTVerifier(keys: [try .pem(JWTFixtures.file("rsa.pub"))])
        #expect(reason(v.verify(forged[...], now: now)) == "no key for this token")
    }

    @Test func weakAndUnsupportedKeysAreRefused() {
        #expect(throws: AuthError("RSA keys shorter than 2048 bits are refused")) { try JWTKey.pem(JWTFixtures.file("weak.pub")) }
        #expect(throws: AuthError("only RSA and P-256 EC public keys are supported")) { try JWTKey.pem(JWTFixtures.file("p384.pub")) }
        #expect(throws: AuthError("an HS256 secret needs at least 32 bytes (got 5)")) { try JWTKey.hmac(Array("short".utf8)) }
        #expect(throws: AuthError("no PEM public key or certificate found")) { try JWTKey.pem(Array("hello".utf8)) }
        #expect(throws: AuthError("the JWKS has no \"keys\" array")) { try JWTKey.jwks(Array("{}".utf8)) }
        #expect(throws: AuthError("JWKS key \"x\": missing or invalid \"n\"")) {
            try JWTKey.jwks(Array(#"{"keys":[{"kty":"RSA","kid":"x","e":"AQAB"}]}"#.utf8))
        }
    }

    @Test func base64URLIsStrict() {
        #expect(Base64URL.decode("aGVsbG8") == Array("hello".utf8))
        #expect(Base64URL.decode("aGVsbG8=") == Array("hello".utf8))
        #expect(Base64URL.decode("aGVsbG8+") == nil)
        #expect(Base64URL.decode("a") == nil)
        #expect(Base64URL.decode("aGVsbG9") == nil)   // non-zero leftover bits
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
    }
}
