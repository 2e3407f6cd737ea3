public import KDL

/// A route: which requests it takes (`matches`), in which order (`priority`), and what serves
/// them (an upstream, static files, or a builtin handler), with the policies in between.
public struct RouteConfig: Sendable, Hashable {
    public enum ServiceType: String, Sendable, Hashable {
        case web, api, `static`, builtin, inference
    }

    public enum BuiltinHandler: String, Sendable, Hashable, CaseIterable {
        case status, health, metrics, notFound = "not-found", config, upstreams
        case cachePurge = "cache-purge", cacheStats = "cache-stats"
        /// Sentinel's HTML landing page (not in the original).
        case welcome
    }

    public var id: String
    public var priority: Int = 50
    public var match: RouteMatch
    /// Written without a `matches` block: the route takes every request (the original's
    /// catch-all, usually with `priority "low"`).
    public var catchAll = false
    public var upstream: String?
    public var upstreamLocation: KDLSourceLocation?
    public var serviceType: ServiceType = .web
    public var builtinHandler: BuiltinHandler?
    public var staticFiles: StaticFilesConfig?
    public var apiSchema: ApiSchemaConfig?
    public var inference: InferenceConfig?
    /// Filter ids applied in order.
    public var filters: [String] = []
    public var policies: RoutePolicies = RoutePolicies()
    public var cache: RouteCacheConfig?
    public var shadow: ShadowConfig?
    public var fallback: FallbackConfig?
    public var retryPolicy: RetryPolicy?
    public var wafEnabled: Bool = false
    /// Allow `Upgrade: websocket` on this route (403 otherwise).
    public var websocket: Bool = false
    public var websocketInspection: Bool = false
    /// Every id this route refers to, for the validator.
    public var references: [ConfigReference] = []
    public var location: KDLSourceLocation

    static let priorities: [(String, Int)] = [("low", 10), ("normal", 50), ("high", 100), ("critical", 1000)]

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> RouteConfig? {
        let id = node.arguments.first?.stringValue
        let p = path.appending(node, id: id ?? "?")
        var r = NodeReader(node, path: p, sink: sink)
        guard r.identifier("route") != nil, let id else { r.finish(); return nil }
        var route = RouteConfig(id: id, match: RouteMatch(location: node.location), location: node.location)
        if let m = r.single("matches", "match") {
            route.match = RouteMatch.read(m, path: p, sink: sink)
        }
        if let v = r.scalar(["priority"]) {
            let values = ValueReader(sink: sink, path: p, key: "priority")
            if v.numberValue != nil {
                route.priority = values.int(v, range: -1_000_000...1_000_000) ?? 50
            } else {
                route.priority = values.choice(v, options: priorities) ?? 50
            }
        }
        if let v = r.scalar(["upstream"]) {
            route.upstream = ValueReader(sink: sink, path: p, key: "upstream").string(v)
            route.upstreamLocation = v.location
            if let u = route.upstream { route.references.append(ConfigReference(kind: .upstream, id: u, location: v.location, path: p.description)) }
        }
        let declaredType = r.choice(
            "service-type",
            options: [("web", ServiceType.web), ("api", .api), ("static", .static), ("builtin", .builtin), ("inference", .inference)])
        route.builtinHandler = r.choice(
            "builtin-handler",
            options: BuiltinHandler.allCases.map { ($0.rawValue, $0) } + [("not_found", .notFound), ("cache_purge", .cachePurge), ("cache_stats", .cacheStats)])
        if let s = r.single("static-files") { route.staticFiles = StaticFilesConfig.read(s, path: p, sink: sink) }
        if let a = r.single("api-schema") { route.apiSchema = ApiSchemaConfig.read(a, path: p, sink: sink) }
        if let i = r.single("inference") {
            route.inference = InferenceConfig.read(i, path: p, sink: sink)
            route.references += route.inference?.references ?? []
        }
        for f in r.all("filters") {
            let fp = p.appending(f)
            var fr = NodeReader(f, path: fp, sink: sink)
            let args = fr.arguments()
            fr.finish()
            if args.isEmpty { sink.error(f.location, fp, "\"filters\" needs at least one filter id") }
            for a in args {
                guard let fid = ValueReader(sink: sink, path: fp, key: "filters").string(a) else { continue }
                if route.filters.contains(fid) {
                    sink.error(a.location, fp, "filter \"\(fid)\" is listed twice on this route")
                    continue
                }
                route.filters.append(fid)
                route.references.append(ConfigReference(kind: .filter, id: fid, location: a.location, path: fp.description))
            }
        }
        if let pol = r.single("policies") { route.policies = RoutePolicies.read(pol, path: p, sink: sink) }
        if let c = r.single("cache") { route.cache = RouteCacheConfig.read(c, path: p, sink: sink) }
        if let s = r.single("shadow") {
            route.shadow = ShadowConfig.read(s, path: p, sink: sink)
            route.references += route.shadow?.references ?? []
        }
        if let f = r.single("fallback") {
            route.fallback = FallbackConfig.read(f, path: p, sink: sink)
            route.references += route.fallback?.references ?? []
        }
        if let rp = r.single("retry-policy") { route.retryPolicy = RetryPolicy.read(rp, path: p, sink: sink) }
        route.wafEnabled = r.bool("waf-enabled", default: false)
        route.websocket = r.bool("websocket", default: false)
        route.websocketInspection = r.bool("websocket-inspection", default: false)
        r.finish()

        if !node.children.contains(where: { $0.name == "matches" || $0.name == "match" }) {
            // No matches block at all is the original's catch-all: every request, tried after
            // the routes of higher priority and, at equal priority, after every route with a condition.
            route.catchAll = true
        } else if route.match.isEmpty, node.children.first(where: { $0.name == "matches" || $0.name == "match" })?.children.isEmpty ?? true {
            sink.error(route.match.location, p, "route \"\(id)\" has an empty matches block",
                       hint: "add a condition, e.g. path-prefix \"/\", or leave out matches for a route that takes every request")
        }
        // What serves the route: exactly one of these.
        var servers: [String] = []
        if route.upstream != nil { servers.append("upstream") }
        if route.staticFiles != nil || node.children.contains(where: { $0.name == "static-files" }) { servers.append("static-files") }
        if route.builtinHandler != nil { servers.append("builtin-handler") }
        if servers.count > 1 {
            sink.error(node.location, p, "route \"\(id)\" has both \(servers[0]) and \(servers[1]); a route is served by exactly one",
                       hint: "split it into two routes")
        }
        let inferred: ServiceType
        if route.staticFiles != nil { inferred = .static }
        else if route.builtinHandler != nil { inferred = .builtin }
        else if route.apiSchema != nil { inferred = .api }
        else if route.inference != nil { inferred = .inference }
        else { inferred = .web }
        route.serviceType = declaredType ?? inferred
        if let declaredType, declaredType != inferred, !(declaredType == .api && inferred == .web) {
            sink.error(node.location, p, "service-type \"\(declaredType.rawValue)\" contradicts the route's contents (\(inferred.rawValue))")
        }
        if route.websocketInspection, !route.websocket {
            sink.error(node.location, p, "websocket-inspection #true needs websocket #true")
        }
        return route
    }
}

/// Per-route policies (`policies { … }`). The original's KDL parser only read the header blocks;
/// Sentinel reads every documented key.
public struct RoutePolicies: Sendable, Hashable {
    public enum FailureMode: String, Sendable, Hashable { case open, closed }

    public var requestHeaders: HeaderModifications = HeaderModifications()
    public var responseHeaders: HeaderModifications = HeaderModifications()
    /// Upstream read/write timeout override.
    public var timeout: Duration?
    /// Request body cap for this route (overrides `limits`).
    public var maxBodySize: Int64?
    /// Failure mode of the route's agent filters that set none; nil (unset): each agent's own.
    public var failureMode: FailureMode?
    public var rateLimit: RateLimitPolicy?
    public var bufferRequests: Bool = false
    public var bufferResponses: Bool = false

    /// `rate-limit { requests-per-second; burst; key }`: a local limiter in front of the route's
    /// filters (rejects with 429, as a `rate-limit` filter with its defaults).
    public struct RateLimitPolicy: Sendable, Hashable {
        public var requestsPerSecond: Int
        public var burst: Int
        public var key: RateLimitKey
        /// Where the policy's node is (its limiter's identity in the snapshot).
        public var location: KDLSourceLocation
    }

    public init() {}

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> RoutePolicies {
        let p = path.appending(node)
        var r = NodeReader(node, path: p, sink: sink)
        r.childNoun = "policy"
        var pol = RoutePolicies()
        if let h = r.single("request-headers") { pol.requestHeaders = HeaderModifications.read(h, path: p, sink: sink, variables: true) }
        if let h = r.single("response-headers") { pol.responseHeaders = HeaderModifications.read(h, path: p, sink: sink) }
        pol.timeout = r.duration("timeout-secs", "timeout", unit: .seconds, min: .milliseconds(1))
        pol.maxBodySize = r.size("max-body-size", "max-body-size-bytes")
        pol.failureMode = r.choice("failure-mode", options: [("open", .open), ("closed", .closed), ("fail-open", .open), ("fail-closed", .closed)])
        if let rl = r.single("rate-limit") {
            let rp = p.appending(rl)
            var rr = NodeReader(rl, path: rp, sink: sink)
            let rps = rr.int("requests-per-second", "max-rps", range: 1...10_000_000)
            let burst = rr.int("burst", range: 1...10_000_000)
            let key = RateLimitKey.read(&rr, "key") ?? .clientIP
            // Probed as the choice it is (a `header:<Name>` key is one more spelling of it).
            rr.trace(["key"], NodeReader.choiceKind([("client-ip", 0), ("path", 1), ("route", 2), ("client-ip-and-path", 3)], default: 0))
            rr.finish()
            if rps == nil, !rl.children.contains(where: { $0.name == "requests-per-second" || $0.name == "max-rps" }) {
                rr.missing("requests-per-second", example: "requests-per-second 100")
            }
            if let rps { pol.rateLimit = RateLimitPolicy(requestsPerSecond: rps, burst: burst ?? rps, key: key, location: rl.location) }
        }
        pol.bufferRequests = r.bool("buffer-requests", default: false)
        pol.bufferResponses = r.bool("buffer-responses", default: false)
        r.finish()
        return pol
    }
}

/// Retries (`retry-policy { … }`). Only safe replays are made: idempotent methods, or a request
/// whose body was never sent because the connection was refused; a budget stops retries from
/// multiplying an outage.
public struct RetryPolicy: Sendable, Hashable {
    public var maxAttempts: Int = 3
    /// Deadline for all attempts together; nil means the upstream's request timeout.
    public var timeout: Duration?
    public var backoffBase: Duration = .milliseconds(100)
    public var backoffMax: Duration = .seconds(10)
    public var retryableStatusCodes: [Int] = [502, 503, 504]
    /// Retries allowed as a fraction of recent requests (the retry budget).
    public var budgetRatio: Double = 0.2
    /// Retries per second always allowed, whatever the ratio.
    public var budgetMinPerSecond: Int = 10

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> RetryPolicy {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var rp = RetryPolicy()
        rp.maxAttempts = r.int("max-attempts", default: 3, range: 1...10)
        rp.timeout = r.duration("timeout-ms", unit: .milliseconds, min: .milliseconds(1))
        rp.backoffBase = r.duration("backoff-base-ms", unit: .milliseconds, default: rp.backoffBase)!
        rp.backoffMax = r.duration("backoff-max-ms", unit: .milliseconds, default: rp.backoffMax)!
        rp.retryableStatusCodes = r.intList("retryable-status-codes", range: 100...599) ?? rp.retryableStatusCodes
        rp.budgetRatio = r.double("budget-ratio", default: 0.2, range: 0...1)
        rp.budgetMinPerSecond = r.int("budget-min-per-sec", default: 10, range: 0...1_000_000)
        r.finish()
        if rp.backoffBase > rp.backoffMax {
            sink.error(node.location, r.path, "backoff-base-ms is larger than backoff-max-ms")
        }
        return rp
    }
}
