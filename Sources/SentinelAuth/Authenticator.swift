/// The auth agent's decision for one request, without any protocol types.
public enum AuthOutcome: Sendable, Equatable {
    /// Headers to set on the upstream request (the identity).
    case authenticated(headers: [Header])
    /// Refuse with 401 and this `WWW-Authenticate` value; `reason` is for the audit data.
    case denied(reason: String, wwwAuthenticate: String)

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) { self.name = name; self.value = value }
    }
}

/// Checks a request's credentials: an API key in its header, else a bearer JWT.
public struct Authenticator: Sendable {
    public var jwt: JWTVerifier?
    public var apiKeys: APIKeyStore
    /// Lower-case header name the API key comes in.
    public var apiKeyHeader: String
    /// The claim whose value becomes `x-user-id` (default `sub`).
    public var userClaim: String
    /// Claims forwarded as `x-auth-claim-<claim>`.
    public var claimHeaders: [String]
    public var realm: String

    public init(jwt: JWTVerifier?, apiKeys: APIKeyStore = APIKeyStore(), apiKeyHeader: String = "x-api-key",
                userClaim: String = "sub", claimHeaders: [String] = [], realm: String = "sentinel") {
        self.jwt = jwt
        self.apiKeys = apiKeys
        self.apiKeyHeader = apiKeyHeader.lowercased()
        self.userClaim = userClaim
        self.claimHeaders = claimHeaders
        self.realm = realm
    }

    /// The identity headers this agent owns: removed from every request before its own are set,
    /// so a client cannot send them itself.
    public var identityHeaderNames: [String] {
        ["x-user-id", "x-auth-method"] + claimHeaders.map { "x-auth-claim-\($0.lowercased())" }
    }

    /// `headers`: lower-case names, every value (as agents receive them).
    public func authenticate(_ headers: [String: [String]], now: Int64) -> AuthOutcome {
        if !apiKeys.isEmpty, let presented = headers[apiKeyHeader], !presented.isEmpty {
            guard presented.count == 1 else { return deny("more than one API key", error: nil) }
            guard let name = apiKeys.identify(presented[0][...]) else { return deny("unknown API key", error: nil) }
            return .authenticated(headers: [.init("x-user-id", name), .init("x-auth-method", "api-key")])
        }
        guard let jwt else { return deny("no credentials", error: nil) }
        guard let authorization = headers["authorization"], !authorization.isEmpty else { return deny("no credentials", error: nil) }
        guard authorization.count == 1 else { return deny("more than one Authorization header", error: "invalid_request") }
        let value = authorization[0]
        guard value.count > 7, value.prefix(7).lowercased() == "bearer " else {
            return deny("not a bearer token", error: "invalid_request")
        }
        let token = value.dropFirst(7).drop { $0 == " " }
        switch jwt.verify(token, now: now) {
        case .failure(let e):
            return deny(e.description, error: "invalid_token")
        case .success(let claims):
            guard let user = claims[userClaim]?.headerText, !user.isEmpty else {
                return deny("token has no \(userClaim) claim", error: "invalid_token")
            }
            var out: [AuthOutcome.Header] = [.init("x-user-id", user), .init("x-auth-method", "jwt")]
            for c in claimHeaders {
                if let v = claims[c]?.headerText { out.append(.init("x-auth-claim-\(c.lowercased())", v)) }
            }
            return .authenticated(headers: out)
        }
    }

    func deny(_ reason: String, error: String?) -> AuthOutcome {
        var challenges: [String] = []
        if jwt != nil {
            var c = "Bearer realm=\"\(realm)\""
            if let error { c += ", error=\"\(error)\", error_description=\"\(reason)\"" }
            challenges.append(c)
        }
        if !apiKeys.isEmpty { challenges.append("ApiKey realm=\"\(realm)\", header=\"\(apiKeyHeader)\"") }
        return .denied(reason: reason, wwwAuthenticate: challenges.joined(separator: ", "))
    }
}
