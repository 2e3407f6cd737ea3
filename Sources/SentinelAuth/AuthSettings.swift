import Foundation

/// The auth agent's settings as JSON (the agent's `config { }` block delivered by Configure);
/// the command-line flags fill the same structure. Keys are the KDL spellings; an unknown key
/// is an error.
public struct AuthSettings: Sendable, Decodable, Equatable {
    public var jwtSecret: String?
    public var jwtPublicKeyFiles: [String] = []
    public var jwksFile: String?
    public var issuers: [String] = []
    public var audiences: [String] = []
    public var leewaySeconds = 60
    public var algorithms: [String] = []
    public var requireExp = true
    public var userClaim = "sub"
    public var claimHeaders: [String] = []
    public var apiKeyHeader = "x-api-key"
    public var apiKeys: [String] = []
    public var apiKeysFile: String?
    public var realm = "sentinel"

    public init() {}

    static let keys = ["jwt-secret", "jwt-public-key-file", "jwks-file", "issuer", "audience", "leeway-seconds",
                       "algorithms", "require-exp", "user-claim", "claim-headers", "api-key-header", "api-key",
                       "api-keys-file", "realm"]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        for k in c.allKeys where !Self.keys.contains(k.stringValue) {
            throw DecodingError.dataCorrupted(.init(codingPath: [k], debugDescription:
                "unknown key \"\(k.stringValue)\" in auth settings (known: \(Self.keys.joined(separator: ", ")))"))
        }
        func many(_ k: String) throws -> [String]? {
            if let a = try? c.decodeIfPresent([String].self, forKey: Key(k)) { return a }
            return try c.decodeIfPresent(String.self, forKey: Key(k)).map { [$0] }
        }
        jwtSecret = try c.decodeIfPresent(String.self, forKey: Key("jwt-secret"))
        jwtPublicKeyFiles = try many("jwt-public-key-file") ?? []
        jwksFile = try c.decodeIfPresent(String.self, forKey: Key("jwks-file"))
        issuers = try many("issuer") ?? []
        audiences = try many("audience") ?? []
        leewaySeconds = try c.decodeIfPresent(Int.self, forKey: Key("leeway-seconds")) ?? 60
        algorithms = try many("algorithms") ?? []
        requireExp = try c.decodeIfPresent(Bool.self, forKey: Key("require-exp")) ?? true
        userClaim = try c.decodeIfPresent(String.self, forKey: Key("user-claim")) ?? "sub"
        claimHeaders = try many("claim-headers") ?? []
        apiKeyHeader = try c.decodeIfPresent(String.self, forKey: Key("api-key-header")) ?? "x-api-key"
        apiKeys = try many("api-key") ?? []
        apiKeysFile = try c.decodeIfPresent(String.self, forKey: Key("api-keys-file"))
        realm = try c.decodeIfPresent(String.self, forKey: Key("realm")) ?? "sentinel"
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Reads the key files and builds the authenticator; every problem is an error with its reason.
    public func authenticator() throws(AuthError) -> Authenticator {
        guard (0...600).contains(leewaySeconds) else { throw AuthError("leeway-seconds must be 0 to 600 (got \(leewaySeconds))") }
        guard !userClaim.isEmpty else { throw AuthError("user-claim must not be empty") }
        guard !apiKeyHeader.isEmpty, apiKeyHeader.utf8.allSatisfy(Self.isTokenByte) else {
            throw AuthError("api-key-header \"\(apiKeyHeader)\" is not a header name")
        }
        guard !realm.contains("\""), !realm.contains("\\") else { throw AuthError("realm must not contain quotes or backslashes") }
        for c in claimHeaders where c.isEmpty || !c.utf8.allSatisfy(Self.isTokenByte) {
            throw AuthError("claim-headers: \"\(c)\" cannot be part of a header name")
        }
        var keys: [JWTKey] = []
        if let s = jwtSecret { keys.append(try .hmac(Array(s.utf8))) }
        for path in jwtPublicKeyFiles {
            do { keys.append(try .pem(try Self.read(path))) } catch { throw AuthError("\(path): \(error)") }
        }
        if let path = jwksFile {
            do { keys += try JWTKey.jwks(try Self.read(path)) } catch { throw AuthError("\(path): \(error)") }
        }
        var algs = Set<JWTAlgorithm>()
        for a in algorithms {
            guard let alg = JWTAlgorithm(rawValue: a) else { throw AuthError("algorithms: unsupported \"\(a)\" (HS256, RS256, ES256)") }
            algs.insert(alg)
        }
        var store = APIKeyStore()
        for pair in apiKeys { try store.add(pair: pair) }
        if let path = apiKeysFile {
            let text = String(decoding: try Self.read(path), as: UTF8.self)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let l = line.trimmingCharacters(in: .whitespaces)
                if l.isEmpty || l.hasPrefix("#") { continue }
                do { try store.add(pair: l) } catch { throw AuthError("\(path):\(n + 1): \(error)") }
            }
        }
        guard !keys.isEmpty || !store.isEmpty else {
            throw AuthError("nothing to check: set jwt-secret, jwt-public-key-file, jwks-file, api-key or api-keys-file")
        }
        let verifier = keys.isEmpty ? nil : JWTVerifier(
            keys: keys, algorithms: algs.isEmpty ? Set(JWTAlgorithm.allCases) : algs, issuers: issuers,
            audiences: audiences, leeway: Int64(leewaySeconds), requireExpiry: requireExp)
        return Authenticator(jwt: verifier, apiKeys: store, apiKeyHeader: apiKeyHeader, userClaim: userClaim,
                             claimHeaders: claimHeaders, realm: realm)
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."): return true
        default: return false
        }
    }

    static func read(_ path: String) throws(AuthError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw AuthError("cannot read \(path)") }
        guard data.count <= 1 << 20 else { throw AuthError("\(path) is larger than 1 MiB") }
        return [UInt8](data)
    }
}
