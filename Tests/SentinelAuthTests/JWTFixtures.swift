import Foundation
import SentinelTestSupport

@testable import SentinelAuth

/// Keys made at run time with the `openssl` command line (no private key is committed), and
/// tokens signed with them by `openssl dgst`.
enum JWTFixtures {
    static let dir: String = {
        let script = """
        set -e
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
        openssl pkey -in rsa.key -pubout -out rsa.pub
        openssl rsa -in rsa.key -noout -modulus | sed 's/^Modulus=//' > rsa.modulus
        openssl req -x509 -new -key rsa.key -subj /CN=issuer.test -days 2 -out rsa.crt 2>/dev/null
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key 2>/dev/null
        openssl pkey -in ec.key -pubout -out ec.pub
        openssl pkey -in ec.key -pubout -outform DER -out ec.der
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out weak.key 2>/dev/null
        openssl pkey -in weak.key -pubout -out weak.pub
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.key 2>/dev/null
        openssl pkey -in p384.key -pubout -out p384.pub
        """
        return try! scriptedFixtureDirectory(prefix: "sentinel-jwt", script: script)
    }()

    static func file(_ name: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: dir + "/" + name)!) }
    static func path(_ name: String) -> String { dir + "/" + name }

    static let secret = "0123456789abcdef0123456789abcdef-test-secret"

    static func b64(_ s: String) -> String { Base64URL.encode(Array(s.utf8)) }

    static func signingInput(header: String, claims: String) -> String { b64(header) + "." + b64(claims) }

    static func hs256(_ claims: String, header: String = #"{"alg":"HS256","typ":"JWT"}"#, secret: String = secret) -> String {
        let input = signingInput(header: header, claims: claims)
        let sig = Crypto.hmacSHA256(key: Array(secret.utf8), data: Array(input.utf8))
        return input + "." + Base64URL.encode(sig)
    }

    /// Signs with `openssl dgst -sha256 -sign` (RSA: PKCS#1 v1.5; EC: DER, converted to r||s).
    static func signed(_ claims: String, alg: String, key: String, kid: String? = nil) -> String {
        let header = kid.map { #"{"alg":"\#(alg)","kid":"\#($0)"}"# } ?? #"{"alg":"\#(alg)"}"#
        let input = signingInput(header: header, claims: claims)
        let name = "in-\(UInt32.random(in: 0...UInt32.max))"
        FileManager.default.createFile(atPath: path(name), contents: Data(input.utf8))
        let r = try! runProcess("/usr/bin/openssl", ["dgst", "-sha256", "-sign", path(key), "-out", path(name + ".sig"), path(name)])
        precondition(r.status == 0, r.stderr)
        var sig = file(name + ".sig")
        if alg == "ES256" { sig = rawECDSA(sig) }
        return input + "." + Base64URL.encode(sig)
    }

    /// DER `SEQUENCE { INTEGER r, INTEGER s }` → 32-byte r || 32-byte s.
    static func rawECDSA(_ der: [UInt8]) -> [UInt8] {
        var i = 2
        if der[1] & 0x80 != 0 { i += Int(der[1] & 0x7F) }
        func integer() -> [UInt8] {
            precondition(der[i] == 0x02)
            let len = Int(der[i + 1])
            let v = Array(der[(i + 2)..<(i + 2 + len)].drop { $0 == 0 })
            i += 2 + len
            return [UInt8](repeating: 0, count: 32 - v.count) + v
        }
        return integer() + integer()
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        let chars = Array(hex.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        return stride(from: 0, to: chars.count, by: 2).map { UInt8(String(decoding: chars[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    /// A JWKS with the RSA key (kid "r1") and the EC key (kid "e1").
    static let jwks: [UInt8] = {
        let n = Base64URL.encode(hexBytes(String(decoding: file("rsa.modulus"), as: UTF8.self)))
        let ec = file("ec.der")
        let x = Base64URL.encode(Array(ec[(ec.count - 64)..<(ec.count - 32)]))
        let y = Base64URL.encode(Array(ec[(ec.count - 32)...]))
        let json = #"{"keys":[{"kty":"RSA","kid":"r1","use":"sig","n":"\#(n)","e":"AQAB"},"#
            + #"{"kty":"EC","kid":"e1","crv":"P-256","x":"\#(x)","y":"\#(y)"},"#
            + #"{"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"}]}"#
        return Array(json.utf8)
    }()
}
