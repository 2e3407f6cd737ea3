import Foundation

/// The signature algorithms the auth agent accepts. `none` and the HS/RS/ES variants beyond
/// SHA-256 are not supported.
public enum JWTAlgorithm: String, Sendable, CaseIterable {
    case hs256 = "HS256"
    case rs256 = "RS256"
    case es256 = "ES256"
}

/// A verification key and the algorithm family it may be used with (an HMAC secret never
/// verifies an RS256 token and an RSA key never an HS256 one: no algorithm confusion).
public struct JWTKey: Sendable {
    public enum Material: Sendable {
        case hmac([UInt8])
        case publicKey(PublicKey)
    }

    public var kid: String?
    public var material: Material

    public init(kid: String? = nil, material: Material) {
        self.kid = kid
        self.material = material
    }

    public static func hmac(_ secret: [UInt8], kid: String? = nil) throws(AuthError) -> JWTKey {
        guard secret.count >= 32 else { throw AuthError("an HS256 secret needs at least 32 bytes (got \(secret.count))") }
        return JWTKey(kid: kid, material: .hmac(secret))
    }

    public static func pem(_ pem: [UInt8], kid: String? = nil) throws(AuthError) -> JWTKey {
        JWTKey(kid: kid, material: .publicKey(try PublicKey(pem: pem)))
    }

    func accepts(_ alg: JWTAlgorithm) -> Bool {
        switch (material, alg) {
        case (.hmac, .hs256): return true
        case (.publicKey(let k), .rs256): return k.kind == .rsa
        case (.publicKey(let k), .es256): return k.kind == .p256
        default: return false
        }
    }

    /// The keys of a JWKS document (`{"keys":[…]}`): RSA (`n`, `e`), EC P-256 (`x`, `y`) and
    /// `oct` (`k`) keys. Keys marked for another use (`use` other than `sig`) are skipped; a key
    /// that cannot be read is an error (a half-loaded key set would fail requests silently).
    public static func jwks(_ data: [UInt8]) throws(AuthError) -> [JWTKey] {
        let doc: JSONClaim
        do { doc = try JSONDecoder().decode(JSONClaim.self, from: Data(data)) } catch {
            throw AuthError("the JWKS is not JSON")
        }
        guard case .array(let entries)? = doc["keys"] else { throw AuthError("the JWKS has no \"keys\" array") }
        var keys: [JWTKey] = []
        for (i, entry) in entries.enumerated() {
            if let use = entry["use"]?.string, use != "sig" { continue }
            let kid = entry["kid"]?.string
            let name = kid.map { "key \"\($0)\"" } ?? "key \(i)"
            func field(_ f: String) throws(AuthError) -> [UInt8] {
                guard let text = entry[f]?.string, let bytes = Base64URL.decode(text), !bytes.isEmpty else {
                    throw AuthError("JWKS \(name): missing or invalid \"\(f)\"")
                }
                return bytes
            }
            switch entry["kty"]?.string {
            case "RSA":
                let spki = DER.rsaPublicKeyInfo(modulus: try field("n"), exponent: try field("e"))
                do { keys.append(JWTKey(kid: kid, material: .publicKey(try PublicKey(spki: spki)))) } catch {
                    throw AuthError("JWKS \(name): \(error)")
                }
            case "EC":
                guard entry["crv"]?.string == "P-256" else { throw AuthError("JWKS \(name): only the P-256 curve is supported") }
                let x = try field("x"), y = try field("y")
                guard x.count == 32, y.count == 32 else { throw AuthError("JWKS \(name): P-256 coordinates must be 32 bytes") }
                do { keys.append(JWTKey(kid: kid, material: .publicKey(try PublicKey(spki: DER.p256PublicKeyInfo(x: x, y: y))))) } catch {
                    throw AuthError("JWKS \(name): \(error)")
                }
            case "oct":
                do { keys.append(try .hmac(try field("k"), kid: kid)) } catch { throw AuthError("JWKS \(name): \(error)") }
            default:
                throw AuthError("JWKS \(name): unsupported key type \(entry["kty"]?.string ?? "(none)")")
            }
        }
        guard !keys.isEmpty else { throw AuthError("the JWKS holds no signing key") }
        return keys
    }
}
