/// One route's match conditions, as the router's caller (the config adapter) hands them over.
///
/// It exists so the router does not depend on the configuration model: the lead's adapter maps
/// the validated config into these plain values, and the router compiles them once per snapshot.
///
/// Conditions of the same kind are ORed (any listed path, any listed host, …) and different kinds
/// are ANDed. An empty list means "no condition of that kind". A route must have at least one
/// condition, unless it says `matchesEverything` (a catch-all: specificity 0, so among routes of
/// its priority it is tried last).
public struct RouteSpec: Sendable, Equatable {
    /// A header condition: `name` (matched case-insensitively) present, or present with exactly `value`.
    public struct Header: Sendable, Equatable, Hashable {
        public var name: String
        public var value: String?
        public init(name: String, value: String? = nil) {
            self.name = name
            self.value = value
        }
    }

    /// A query-parameter condition: `name` present, or present with exactly `value` (after percent-decoding).
    public struct QueryParam: Sendable, Equatable, Hashable {
        public var name: String
        public var value: String?
        public init(name: String, value: String? = nil) {
            self.name = name
            self.value = value
        }
    }

    /// Route id; used as the metrics label and in logs, so it must be unique within a router.
    public var id: String
    /// Higher is evaluated first.
    public var priority: Int
    /// Exact paths (compared byte for byte with the request path, without the query).
    public var paths: [String]
    /// Segment-aware prefixes: `/v2` matches `/v2` and `/v2/x`, not `/v2x`; `/v2/` matches anything under it.
    public var pathPrefixes: [String]
    /// Regular expressions (Swift `Regex` syntax) searched in the full path; anchor with `^…$` to match it whole.
    public var pathRegexes: [String]
    /// Hosts: exact (case-insensitive), `*.example.com` (at least one extra label), or any other pattern
    /// containing `*` or `[`, compiled as a case-insensitive regex that must match the whole host.
    public var hosts: [String]
    public var headers: [Header]
    /// Methods, compared in uppercase.
    public var methods: [String]
    public var queryParams: [QueryParam]
    /// Opaque index the caller uses to find what to do with a matched request.
    public var handler: Int
    /// A route written without conditions on purpose: it matches every request.
    public var matchesEverything: Bool

    public init(
        id: String,
        priority: Int = 50,
        paths: [String] = [],
        pathPrefixes: [String] = [],
        pathRegexes: [String] = [],
        hosts: [String] = [],
        headers: [Header] = [],
        methods: [String] = [],
        queryParams: [QueryParam] = [],
        handler: Int = 0,
        matchesEverything: Bool = false
    ) {
        self.matchesEverything = matchesEverything
        self.id = id
        self.priority = priority
        self.paths = paths
        self.pathPrefixes = pathPrefixes
        self.pathRegexes = pathRegexes
        self.hosts = hosts
        self.headers = headers
        self.methods = methods
        self.queryParams = queryParams
        self.handler = handler
    }

    /// The §5.1 tie-breaker within one priority: path (max), host (max), plus each header, method and query condition.
    public var specificity: Int {
        var path = 0
        if !paths.isEmpty { path = 10_000 }
        if !pathRegexes.isEmpty { path = max(path, 5_000) }
        for prefix in pathPrefixes { path = max(path, 1_000 + prefix.utf8.count) }
        var host = 0
        for pattern in hosts { host = max(host, HostPattern.kind(of: pattern).specificity) }
        var conditions = 0
        for header in headers { conditions += header.value == nil ? 20 : 30 }
        conditions += 10 * methods.count
        for query in queryParams { conditions += query.value == nil ? 15 : 25 }
        return path + host + conditions
    }

    var hasNoConditions: Bool {
        paths.isEmpty && pathPrefixes.isEmpty && pathRegexes.isEmpty && hosts.isEmpty && headers.isEmpty
            && methods.isEmpty && queryParams.isEmpty
    }
}
