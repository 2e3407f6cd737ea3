/// `type "cors"`: answers CORS preflights and marks cross-origin responses, by a configured
/// policy. Origins are compared exactly (scheme, host and port, case-insensitively); an origin
/// is echoed back only when it is one of the configured ones (never reflected otherwise), and
/// `*` is never combined with credentials (the loader refuses that configuration; the filter
/// would send the request's configured origin instead, never `*`).
public struct CorsPolicy: Sendable, Equatable {
    /// Exact origins in lower case; empty with `anyOrigin`: every origin.
    public var origins: [String]
    public var anyOrigin: Bool
    public var methods: [String]
    /// Allowed request headers in lower case; `["*"]`: any (without credentials only).
    public var allowedHeaders: [String]
    public var exposedHeaders: [String]
    public var allowCredentials: Bool
    public var maxAgeSeconds: Int

    public init(
        origins: [String], methods: [String], allowedHeaders: [String], exposedHeaders: [String], allowCredentials: Bool,
        maxAgeSeconds: Int
    ) {
        anyOrigin = origins.contains("*")
        self.origins = origins.filter { $0 != "*" }.map { $0.lowercased() }
        self.methods = methods
        self.allowedHeaders = allowedHeaders.map { $0.lowercased() }
        self.exposedHeaders = exposedHeaders
        self.allowCredentials = allowCredentials
        self.maxAgeSeconds = maxAgeSeconds
    }

    /// What the policy says about a request. Pure.
    enum Decision: Equatable {
        /// Not a cross-origin request (no `Origin`): nothing to add.
        case none
        /// A cross-origin request from an origin that is not allowed: it goes on, unmarked (the
        /// browser then withholds the response from the page).
        case notAllowed
        /// An allowed cross-origin request: it goes on, and its response gets these fields.
        case mark([LocalAnswer.Field])
        /// A preflight: answered here with this status and these fields.
        case preflight(status: Int, [LocalAnswer.Field])
    }

    /// `origin`: the request's `Origin` (nil: none); `method`: its method; `requestMethod` and
    /// `requestHeaders`: its `Access-Control-Request-Method` / `-Headers`.
    func decide(origin: String?, method: String, requestMethod: String?, requestHeaders: String?) -> Decision {
        let isPreflight = method == "OPTIONS" && requestMethod != nil
        guard let origin else { return .none }
        guard let allowOrigin = allowedOriginValue(origin) else {
            return isPreflight ? .preflight(status: 403, [vary(preflight: true)]) : .notAllowed
        }
        var fields = [LocalAnswer.Field(name: "Access-Control-Allow-Origin", value: allowOrigin)]
        if allowCredentials { fields.append(.init(name: "Access-Control-Allow-Credentials", value: "true")) }
        guard isPreflight, let requestMethod else {
            if !exposedHeaders.isEmpty { fields.append(.init(name: "Access-Control-Expose-Headers", value: exposedHeaders.joined(separator: ", "))) }
            if allowOrigin != "*" { fields.append(vary(preflight: false)) }
            return .mark(fields)
        }
        // A preflight for a method or headers the policy does not allow is refused outright.
        guard methods.contains("*") && !allowCredentials || methods.contains(requestMethod) || Self.safelistedMethods.contains(requestMethod) else {
            return .preflight(status: 403, [vary(preflight: true)])
        }
        let asked = (requestHeaders ?? "").split(separator: ",").map { String($0).trimmedOf(" \t").lowercased() }.filter { !$0.isEmpty }
        let anyHeader = allowedHeaders.contains("*") && !allowCredentials
        if !anyHeader, asked.contains(where: { !allowedHeaders.contains($0) }) {
            return .preflight(status: 403, [vary(preflight: true)])
        }
        fields.append(.init(name: "Access-Control-Allow-Methods", value: methods.joined(separator: ", ")))
        if !asked.isEmpty {
            // Only what was asked for (and allowed): the configured list is not revealed wholesale.
            fields.append(.init(name: "Access-Control-Allow-Headers", value: asked.joined(separator: ", ")))
        }
        fields.append(.init(name: "Access-Control-Max-Age", value: String(maxAgeSeconds)))
        fields.append(vary(preflight: true))
        return .preflight(status: 204, fields)
    }

    /// The `Access-Control-Allow-Origin` value for `origin`, nil when it is not allowed.
    func allowedOriginValue(_ origin: String) -> String? {
        let lower = origin.lowercased()
        if origins.contains(lower) { return origin }
        if anyOrigin { return allowCredentials ? nil : "*" }
        return nil
    }

    private func vary(preflight: Bool) -> LocalAnswer.Field {
        .init(name: "Vary", value: preflight ? "Origin, Access-Control-Request-Method, Access-Control-Request-Headers" : "Origin")
    }

    static let safelistedMethods = ["GET", "HEAD", "POST"]
}

extension String {
    /// This string without leading and trailing characters of `set`.
    func trimmedOf(_ set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

/// The cors filter in the chain: reads the three request fields, answers a preflight, or marks
/// the response through the request's response edits.
struct CorsFilter: RequestFilter {
    let policy: CorsPolicy

    static let origin = Array("origin".utf8)
    static let requestMethod = Array("access-control-request-method".utf8)
    static let requestHeaders = Array("access-control-request-headers".utf8)

    func onRequest(_ request: borrowing FilterRequest, effects: inout FilterEffects) -> FilterDecision {
        // Two Origin fields are no origin a browser sends: treated as not allowed.
        let count = request.headerCount(Self.origin)
        guard count > 0 else { return .next }
        let origin = count == 1 ? request.header(Self.origin) : "\u{0}"
        let decision = policy.decide(
            origin: origin, method: request.facts.method, requestMethod: request.header(Self.requestMethod),
            requestHeaders: request.header(Self.requestHeaders))
        switch decision {
        case .none, .notAllowed:
            return .next
        case .mark(let fields):
            // The Access-Control fields replace any the upstream sent; Vary is added to its own.
            effects.editResponse(HeaderEdits(
                rename: [], set: fields.filter { $0.name != "Vary" }.map { .init(name: $0.name, value: $0.value) },
                add: fields.filter { $0.name == "Vary" }.map { .init(name: $0.name, value: $0.value) }, remove: []))
            return .next
        case .preflight(let status, let fields):
            return .answer(LocalAnswer(status: status, content: status == 204 ? .empty : .error, fields: fields, keepAlive: true))
        }
    }
}

extension FilterChain.Entry {
    /// A `cors` filter.
    public static func cors(id: String, _ policy: CorsPolicy) -> FilterChain.Entry {
        FilterChain.Entry(id: id, type: "cors", filter: CorsFilter(policy: policy))
    }
}
