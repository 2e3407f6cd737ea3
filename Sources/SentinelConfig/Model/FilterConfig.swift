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
