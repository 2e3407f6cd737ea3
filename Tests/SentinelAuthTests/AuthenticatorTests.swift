import Foundation
import Testing

@testable import SentinelAuth

private let now: Int64 = 1_800_000_000

private func settings(_ json: String) throws -> AuthSettings {
    try JSONDecoder().decode(AuthSettings.self, from: Data(json.utf8))
}

@Suite struct AuthenticatorTests {
    @Test func apiKeysMatchByNameInConstantTimeAndAreStrict() throws {
        var store = APIKeyStore()
        try store.add(pair: "billing:bk_0123456789abcdef")
        try store.add(name: "ci", key: "ci-key:with:colons-0123")
        #expect(store.identify("bk_0123456789abcdef") == "billing")
        #expect(store.identify("ci-key:with:colons-0123") == "ci")
        #expect(store.identify("bk_0123456789abcdeF") == nil)
        #expect(store.identify("") == nil)
        #expect(throws: AuthError("API key \"x\" is shorter than 16 bytes")) { try store.add(pair: "x:short") }
        #expect(throws: AuthError("an API key is written name:key")) { try store.add(pair: "nocolon") }
    }

    @Test func apiKeyHeaderAuthenticates() throws {
        let a = try settings(#"{"api-key":["billing:bk_0123456789abcdef"],"api-key-header":"X-Service-Key"}"#).authenticator()
        #expect(a.authenticate(["x-service-key": ["bk_0123456789abcdef"]], now: now)
                == .authenticated(headers: [.init("x-user-id", "billing"), .init("x-auth-method", "api-key")]))
        #expect(a.authenticate(["x-service-key": ["wrong-key-0123456789"]], now: now)
                == .denied(reason: "unknown API key", wwwAuthenticate: #"ApiKey realm="sentinel", header="x-service-key""#))
        #expect(a.authenticate(["x-api-key": ["bk_0123456789abcdef"]], now: now)
                == .denied(reason: "no credentials", wwwAuthenticate: #"ApiKey realm="sentinel", header="x-service-key""#))
    }

    @Test func bearerTokensAuthenticateWithClaimHeaders() throws {
        let a = try settings(#"{"jwt-secret":"\#(JWTFixtures.secret)","claim-headers":["role","groups"],"realm":"api"}"#).authenticator()
        let token = JWTFixtures.hs256(#"{"sub":"u-7","role":"admin","groups":["a","b"],"exp":\#(now + 60)}"#)
        #expect(a.authenticate(["authorization": ["Bearer " + token]], now: now) == .authenticated(headers: [
            .init("x-user-id", "u-7"), .init("x-auth-method", "jwt"),
            .init("x-auth-claim-role", "admin"), .init("x-auth-claim-groups", "a,b"),
        ]))
        #expect(a.identityHeaderNames == ["x-user-id", "x-auth-method", "x-auth-claim-role", "x-auth-claim-groups"])
        let expired = JWTFixtures.hs256(#"{"sub":"u-7","exp":\#(now - 600)}"#)
        #expect(a.authenticate(["authorization": ["bearer " + expired]], now: now) == .denied(
            reason: "token expired",
            wwwAuthenticate: #"Bearer realm="api", error="invalid_token", error_description="token expired""#))
        #expect(a.authenticate([:], now: now) == .denied(reason: "no credentials", wwwAuthenticate: #"Bearer realm="api""#))
        #expect(a.authenticate(["authorization": ["Basic dTpw"]], now: now) == .denied(
            reason: "not a bearer token",
            wwwAuthenticate: #"Bearer realm="api", error="invalid_request", error_description="not a bearer token""#))
        let noSub = JWTFixtures.hs256(#"{"exp":\#(now + 60)}"#)
        guard case .denied(let r, _) = a.authenticate(["authorization": ["Bearer " + noSub]], now: now) else {
            Issue.record("accepted a token without sub"); return
        }
        #expect(r == "token has no sub claim")
    }

    @Test func settingsFromFilesAndTheirErrors() throws {
        let keysFile = JWTFixtures.path("keys.txt")
        try "# service keys\nalpha:alpha-0123456789abcdef\n\nbeta:beta-0123456789abcdef\n".write(toFile: keysFile, atomically: true, encoding: .utf8)
        let jwksFile = JWTFixtures.path("jwks.json")
        FileManager.default.createFile(atPath: jwksFile, contents: Data(JWTFixtures.jwks))
        let a = try settings(#"""
            {"jwks-file":"\#(jwksFile)","jwt-public-key-file":"\#(JWTFixtures.path("ec.pub"))","api-keys-file":"\#(keysFile)",
             "issuer":"https://id.example","audience":"api","algorithms":["RS256","ES256"],"leeway-seconds":5}
            """#).authenticator()
        #expect(a.apiKeys.count == 2)
        #expect(a.jwt?.keys.count == 3)
        #expect(a.jwt?.leeway == 5)
        let token = JWTFixtures.signed(#"{"sub":"s","iss":"https://id.example","aud":"api","exp":\#(now + 60)}"#, alg: "RS256", key: "rsa.key", kid: "r1")
        #expect(a.authenticate(["authorization": ["Bearer " + token]], now: now)
                == .authenticated(headers: [.init("x-user-id", "s"), .init("x-auth-method", "jwt")]))

        func refused(_ json: String) -> String {
            do { _ = try settings(json).authenticator(); return "accepted" } catch { return "\(error)" }
        }
        #expect(refused(#"{"jwt-secrets":"x"}"#).contains("unknown key \"jwt-secrets\""))
        #expect(refused("{}").contains("nothing to check"))
        #expect(refused(#"{"jwt-secret":"\#(JWTFixtures.secret)","algorithms":"HS512"}"#).contains("unsupported \"HS512\""))
        #expect(refused(#"{"jwks-file":"/nonexistent/jwks.json"}"#).contains("cannot read /nonexistent/jwks.json"))
        #expect(refused(#"{"jwt-secret":"\#(JWTFixtures.secret)","leeway-seconds":3600}"#).contains("leeway-seconds must be 0 to 600"))
        #expect(refused(#"{"api-key":"a:0123456789abcdef","api-key-header":"bad header"}"#).contains("is not a header name"))
        try "ok:0123456789abcdef\nbroken\n".write(toFile: keysFile, atomically: true, encoding: .utf8)
        #expect(refused(#"{"api-keys-file":"\#(keysFile)"}"#) == "\(keysFile):2: an API key is written name:key")
    }
}
