import Foundation

/// Why a token was refused. `description` is safe to send to the client (in
/// `WWW-Authenticate`'s `error_description`): it names the check, never key material.
public struct JWTError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// Checks a compact JWS (`header.payload.signature`) and its registered claims.
public struct JWTVerifier: Sendable {
    public var keys: [JWTKey]
    public var algorithms: Set<JWTAlgorithm>
    /// When non-empty, `iss` must be one of these.
    public var issuers: [String]
    /// When non-empty, `aud` (a string or an array) must name one of these.
    public var audiences: [String]
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    public var leeway: Int64
    /// A token without `exp` is refused (default).
    public var requireExpiry: Bool
    /// Tokens longer than this are refused before any decoding.
    public var maxTokenBytes: Int

    public init(keys: [JWTKey], algorithms: Set<JWTAlgorithm> = Set(JWTAlgorithm.allCases), issuers: [String] = [],
                audiences: [String] = [], leeway: Int64 = 60, requireExpiry: Bool = true, maxTokenBytes: Int = 16_384) {
        self.keys = keys
        self.algorithms = algorithms
        self.issuers = issuers
        self.audiences = audiences
        self.leeway = leeway
        self.requireExpiry = requireExpiry
        self.maxTokenBytes = maxTokenBytes
    }

    /// The token's claims when the signature and every check pass.
    public func verify(_ token: Substring, now: Int64) -> Result<[String: JSONClaim], JWTError> {
        guard token.utf8.count <= maxTokenBytes else { return .failure(JWTError("token too long")) }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .failure(JWTError("malformed token")) }
        guard let headerBytes = Base64URL.decode(parts[0]), let payloadBytes = Base64URL.decode(parts[1]),
              let signature = Base64URL.decode(parts[2]) else {
            return .failure(JWTError("malformed token"))
        }
        guard case .object(let header)? = try? JSONDecoder().decode(JSONClaim.self, from: Data(headerBytes)) else {
            return .failure(JWTError("malformed token header"))
        }
        guard let algName = header["alg"]?.string, let alg = JWTAlgorithm(rawValue: algName), algorithms.contains(alg) else {
            return .failure(JWTError("unsupported algorithm"))
        }
        if let crit = header["crit"], crit != .null { return .failure(JWTError("unsupported critical header")) }
        let kid = header["kid"]?.string
        let candidates = keys.filter { $0.accepts(alg) && (kid == nil || $0.kid == nil || $0.kid == kid) }
        guard !candidates.isEmpty else { return .failure(JWTError("no key for this token")) }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        var verified = false
        for key in candidates where !verified {
            switch key.material {
            case .hmac(let secret):
                verified = Crypto.constantTimeEqual(Crypto.hmacSHA256(key: secret, data: signingInput), signature)
            case .publicKey(let pk):
                if alg == .es256 {
                    guard let der = DER.ecdsaSignature(raw: signature, half: 32) else { continue }
                    verified = pk.verifySHA256(signature: der, data: signingInput)
                } else {
                    verified = pk.verifySHA256(signature: signature, data: signingInput)
                }
            }
        }
        guard verified else { return .failure(JWTError("invalid signature")) }
        guard case .object(let claims)? = try? JSONDecoder().decode(JSONClaim.self, from: Data(payloadBytes)) else {
            return .failure(JWTError("malformed token claims"))
        }
        return check(claims, now: now).map { claims }
    }

    func check(_ claims: [String: JSONClaim], now: Int64) -> Result<Void, JWTError> {
        switch claims["exp"] {
        case nil:
            if requireExpiry { return .failure(JWTError("token has no expiry")) }
        case .number(let exp)?:
            if Double(now) >= exp + Double(leeway) { return .failure(JWTError("token expired")) }
        default:
            return .failure(JWTError("malformed exp claim"))
        }
        switch claims["nbf"] {
        case nil: break
        case .number(let nbf)?:
            if Double(now) + Double(leeway) < nbf { return .failure(JWTError("token not yet valid")) }
        default:
            return .failure(JWTError("malformed nbf claim"))
        }
        if !issuers.isEmpty {
            guard let iss = claims["iss"]?.string, issuers.contains(iss) else { return .failure(JWTError("wrong issuer")) }
        }
        if !audiences.isEmpty {
            let aud: [String]
            switch claims["aud"] {
            case .string(let s)?: aud = [s]
            case .array(let items)?: aud = items.compactMap(\.string)
            default: aud = []
            }
            guard aud.contains(where: audiences.contains) else { return .failure(JWTError("wrong audience")) }
        }
        return .success(())
    }
}
