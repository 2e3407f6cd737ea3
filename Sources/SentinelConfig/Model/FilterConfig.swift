public import KDL

/// One entry of `filters { filter "<id>" { type "<t>" … } }`: a named, reusable request or
/// response processing step that routes list in `filters "id1" "id2"`.
///
/// `type` selects the filter kind and therefore which keys are valid: a key of another type
/// (`max-rps` in a `cors` filter) is an unknown key and an error.
public struct FilterConfig: Sendable, Hashable {
    /// The filter id routes refer to.
    public var id: String
    /// Where the `filter` node starts.
    public var location: KDLSourceLocation
    /// The type and its settings.
    public var kind: FilterKind

    public init(id: String, location: KDLSourceLocation, kind: FilterKind) {
        self.id = id
        self.location = location
        self.kind = kind
    }

    /// The agent an `agent` filter calls, with where its id is written; nil for other types.
    public var agentReference: (id: String, location: KDLSourceLocation)? {
        if case .agent(let a) = kind { return a.agentReference }
        return nil
    }

    /// References to other configuration objects (the agent of an `agent` filter).
    public var references: [ConfigReference] {
        if case .agent(let a) = kind { return [a.agent] }
        return []
    }

    static let types: [(String, FilterKind.TypeName)] = [
        ("rate-limit", .rateLimit), ("agent", .agent), ("headers", .headers), ("compress", .compress),
        ("cors", .cors), ("timeout", .timeout), ("log", .log), ("geo", .geo), ("redirect", .redirect),
        ("url-rewrite", .urlRewrite),
        // Aliases.
        ("ratelimit", .rateLimit), ("compression", .compress), ("rewrite", .urlRewrite), ("geoip", .geo),
    ]

    /// The keys of each type, used only to explain a key written in a filter of another type
    /// ("max-rps is a setting of rate-limit filters"). A test checks that every key listed here
    /// is accepted by its type's reader.
    static let keysByType: [(FilterKind.TypeName, [String])] = [
        (.rateLimit, ["max-rps", "burst", "key", "on-limit", "status-code", "message", "max-delay-ms", "max-keys", "backend"]
            + RateLimitFilterConfig.redisKeys + RateLimitFilterConfig.memcachedKeys),
        (.agent, ["agent", "timeout-ms", "failure-mode", "phase", "inspect-body", "max-body-bytes"]),
        (.headers, ["phase", "rename", "set", "add", "remove"]),
        (.compress, ["algorithms", "min-size", "level", "content-types"]),
        (.cors, ["allowed-origins", "allowed-methods", "allowed-headers", "exposed-headers", "allow-credentials", "max-age-secs"]),
        (.timeout, ["request-timeout-secs", "upstream-timeout-secs", "connect-timeout-secs"]),
        (.log, ["log-request", "log-response", "log-body", "max-body-log-size", "level"]),
        (.geo, ["database-path", "database-type", "action", "countries", "on-failure", "status-code", "block-message", "cache-ttl-secs", "add-country-header"]),
        (.redirect, ["status-code", "hostname", "scheme", "port", "replace-full-path", "replace-prefix-match"]),
        (.urlRewrite, ["hostname", "replace-full-path", "replace-prefix-match"]),
    ]

    /// A key that belongs to another filter type gets a specific message instead of the generic
    /// "unknown setting" (and is claimed so it is reported once).
    private static func reportKeysOfOtherTypes(_ r: inout NodeReader, type: FilterKind.TypeName) {
        let own = keysByType.first { $0.0 == type }?.1 ?? []
        for child in r.node.children where child.name != "type" && !own.contains(child.name) {
            let owners = keysByType.filter { $0.1.contains(child.name) }.map { $0.0.rawValue }
            guard !owners.isEmpty else { continue }
            let hint = Suggest.closest(to: child.name, among: own).map { "did you mean \"\($0)\"? " } ?? ""
            r.sink.error(child.location, r.path, "\"\(child.name)\" is a setting of \(owners.joined(separator: "/")) filters, not of \(type.rawValue) filters",
                         hint: hint + "\(type.rawValue) filters take: " + own.joined(separator: ", "))
            _ = r.all(child.name)
        }
    }

    static let typeList = "rate-limit, agent, headers, compress, cors, timeout, log, geo, redirect, url-rewrite"

    /// Reads a `filter "<id>" { … }` node. Returns nil when the id or type is missing or invalid,
    /// or when a required setting of the type is missing (all problems are reported).
    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> FilterConfig? {
        var r = NodeReader(node, path: path, sink: sink)
        let id = r.identifier("filter")
        r = NodeReader(node, path: path.appending(node, id: id), sink: sink)
        _ = r.argument(0)

        // `type` is a child (`type "cors"`); the property form `type="cors"` is accepted too.
        let property = r.property("type")
        let child = r.single("type")
        var typeValue: KDLValue?
        if let child {
            typeValue = NodeReader.scalarValue(of: child, path: r.path, sink: sink)
            if let property {
                sink.error(property.location, r.path, "the filter type is given twice (type= and a type child)", hint: "keep one")
            }
        } else {
            typeValue = property
        }
        guard let typeValue else {
            if child == nil {
                sink.error(node.location, r.path, "filter \(id.map { "\"\($0)\" " } ?? "")needs a type",
                           hint: "add type \"<t>\" as the first line of the block; types: \(typeList)")
            }
            r.claimEverything()
            r.finish()
            return nil
        }
        guard let type = ValueReader(sink: sink, path: r.path, key: "type").choice(typeValue, options: types) else {
            r.claimEverything()
            r.finish()
            return nil
        }
        r.childNoun = "\(type.rawValue) filter setting"

        let kind: FilterKind?
        switch type {
        case .rateLimit: kind = .rateLimit(RateLimitFilterConfig.read(from: &r))
        case .agent: kind = AgentFilterConfig.read(from: &r).map(FilterKind.agent)
        case .headers: kind = .headers(HeadersFilterConfig.read(from: &r))
        case .compress: kind = .compress(CompressFilterConfig.read(from: &r))
        case .cors: kind = .cors(CorsFilterConfig.read(from: &r))
        case .timeout: kind = .timeout(TimeoutFilterConfig.read(from: &r))
        case .log: kind = .log(LogFilterConfig.read(from: &r))
        case .geo: kind = GeoFilterConfig.read(from: &r).map(FilterKind.geo)
        case .redirect: kind = .redirect(RedirectFilterConfig.read(from: &r))
        case .urlRewrite: kind = .urlRewrite(UrlRewriteFilterConfig.read(from: &r))
        }
        reportKeysOfOtherTypes(&r, type: type)
        r.finish()
        guard let id, let kind else { return nil }
        return FilterConfig(id: id, location: node.location, kind: kind)
    }
}

/// The type of a filter with its type-specific settings.
public enum FilterKind: Sendable, Hashable {
    case rateLimit(RateLimitFilterConfig)
    case agent(AgentFilterConfig)
    case headers(HeadersFilterConfig)
    case compress(CompressFilterConfig)
    case cors(CorsFilterConfig)
    case timeout(TimeoutFilterConfig)
    case log(LogFilterConfig)
    case geo(GeoFilterConfig)
    case redirect(RedirectFilterConfig)
    case urlRewrite(UrlRewriteFilterConfig)

    /// The `type` names as written in configuration.
    public enum TypeName: String, Sendable, Hashable, CaseIterable {
        case rateLimit = "rate-limit"
        case agent
        case headers
        case compress
        case cors
        case timeout
        case log
        case geo
        case redirect
        case urlRewrite = "url-rewrite"
    }

    public var typeName: TypeName {
        switch self {
        case .rateLimit: return .rateLimit
        case .agent: return .agent
        case .headers: return .headers
        case .compress: return .compress
        case .cors: return .cors
        case .timeout: return .timeout
        case .log: return .log
        case .geo: return .geo
        case .redirect: return .redirect
        case .urlRewrite: return .urlRewrite
        }
    }
}
