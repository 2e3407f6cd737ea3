public import SentinelConfig
public import SentinelRateLimit
public import SentinelProxy
public import KDL

/// The snapshot's rate limiters, made from the configuration: one per `rate-limit` filter (found
/// by the filter node's location: ids repeat across namespaces) and the `rate-limits { global }`
/// limiter.
///
/// Their tables are laid out in the process's region in a fixed order (global, then filters in
/// configuration order), so every worker of a generation, having the same configuration, gets
/// the same layout in the region they share.
public struct RateLimitSet: Sendable {
    /// In front of every route (`rate-limits { global { … } }`).
    public var global: RateLimiter?
    /// By the location of the filter's node.
    public var filters: [KDLSourceLocation: RateLimiter] = [:]
    /// Every limiter, in layout order.
    public var all: [RateLimiter] = []
    /// Route `policies { rate-limit }` limiters, by the location of the policy's node.
    public var policies: [KDLSourceLocation: RateLimiter] = [:]
    /// Filters with `backend "redis"`, by the location of the filter's node.
    public var redis: [KDLSourceLocation: RedisRateLimiter] = [:]

    public init() {}
}

public enum RateLimitBuilder {
    /// The rule of a `rate-limit` filter (local backend; the Redis backend keeps one as its fallback).
    public static func rule(id: String, _ c: RateLimitFilterConfig) -> RateLimitRule {
        let onLimit: RateLimitRule.OnLimit = switch c.onLimit {
        case .reject: .reject
        case .logOnly: .logOnly
        case .delay: .delay(maxDelay: UInt64(max(1, nanoseconds(c.maxDelay))))
        }
        return RateLimitRule(scope: id, ratePerSecond: c.maxRPS, burst: c.burst, key: key(c.key), onLimit: onLimit,
                             status: c.statusCode, message: c.message, maxKeys: c.maxKeys)
    }

    /// The rule of `rate-limits { global { … } }`: rejects with 429.
    public static func rule(global g: RateLimitsConfig.Global) -> RateLimitRule {
        var r = RateLimitRule(scope: "global", ratePerSecond: g.maxRPS, burst: g.burst, key: key(g.key))
        r.origin = "global"
        return r
    }

    /// The rule of a route's `policies { rate-limit }`: a local limiter that rejects with 429
    /// (`scope`: `route:<id>`, the route's qualified id).
    public static func rule(route id: String, _ p: RoutePolicies.RateLimitPolicy) -> RateLimitRule {
        var r = RateLimitRule(scope: "route:" + id, ratePerSecond: p.requestsPerSecond, burst: p.burst, key: key(p.key))
        r.origin = "policy"
        return r
    }

    /// Every route of `config` with a policy rate limit, with its qualified id, in configuration order.
    static func policyRoutes(_ config: SentinelConfiguration) -> [(String, RoutePolicies.RateLimitPolicy)] {
        var out: [(String, RoutePolicies.RateLimitPolicy)] = config.routes.compactMap { r in r.policies.rateLimit.map { (r.id, $0) } }
        for ns in config.namespaces {
            out += ns.routes.compactMap { r in r.policies.rateLimit.map { (ns.id + "/" + r.id, $0) } }
            for svc in ns.services {
                out += svc.routes.compactMap { r in r.policies.rateLimit.map { (ns.id + "/" + svc.id + "/" + r.id, $0) } }
            }
        }
        return out
    }

    static func key(_ k: RateLimitKey) -> RateLimitRule.Key {
        switch k {
        case .clientIP: .clientIP
        case .path: .path
        case .route: .route
        case .clientIPAndPath: .clientIPAndPath
        case .header(let name): .header(name)
        }
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (s, a) = d.components
        return s * 1_000_000_000 + a / 1_000_000_000
    }

    /// The table sizes of every limiter of `config`, in layout order.
    public static func capacities(_ config: SentinelConfiguration) -> [Int] {
        var out: [Int] = []
        if let g = config.rateLimits?.global { out.append(rule(global: g).capacity) }
        let filters = config.filters + config.namespaces.flatMap { $0.filters + $0.services.flatMap(\.filters) }
        for f in filters { if case .rateLimit(let c) = f.kind { out.append(rule(id: f.id, c).capacity) } }
        for (id, p) in policyRoutes(config) { out.append(rule(route: id, p).capacity) }
        return out
    }

    /// Every limiter of `config` (all scopes' filters), in `region`. Limiters of namespaced
    /// filters are labelled with their qualified id (`ns:id`, `ns:svc:id`).
    public static func build(_ config: SentinelConfiguration, region: RateLimitRegion) throws(RateLimitRegion.Failure) -> RateLimitSet {
        var rules: [RateLimitRule] = []
        var locations: [KDLSourceLocation?] = []
        var redisSettings: [KDLSourceLocation: RateLimitFilterConfig.Redis] = [:]
        if let g = config.rateLimits?.global {
            rules.append(rule(global: g))
            locations.append(nil)
        }
        var scoped: [(String, FilterConfig)] = config.filters.map { ("", $0) }
        for ns in config.namespaces {
            scoped += ns.filters.map { (ns.id + ":", $0) }
            for svc in ns.services { scoped += svc.filters.map { (ns.id + ":" + svc.id + ":", $0) } }
        }
        for (prefix, f) in scoped {
            if case .rateLimit(let c) = f.kind {
                rules.append(rule(id: prefix + f.id, c))
                locations.append(f.location)
                if case .redis(let r) = c.backend { redisSettings[f.location] = r }
            }
        }
        var policyLocations: Set<KDLSourceLocation> = []
        for (id, p) in policyRoutes(config) {
            rules.append(rule(route: id, p))
            locations.append(p.location)
            policyLocations.insert(p.location)
        }
        var set = RateLimitSet()
        guard !rules.isEmpty else { return set }
        set.all = try RateLimiter.make(rules: rules, in: region)
        for (l, location) in zip(set.all, locations) {
            if let location, policyLocations.contains(location) {
                set.policies[location] = l
                continue
            }
            if let location { set.filters[location] = l } else { set.global = l }
            if let location, let r = redisSettings[location] {
                guard let endpoint = RedisRateLimiter.endpoint(r.url) else {
                    throw RateLimitRegion.Failure(description: "filter \"\(l.rule.scope)\": redis-url \"\(r.url)\": only redis://host[:port] is supported yet (no password, database or TLS)")
                }
                set.redis[location] = RedisRateLimiter(local: l, endpoint: endpoint, prefix: r.prefix, poolSize: r.poolSize,
                                                       timeout: r.timeout, fallbackToLocal: r.fallbackToLocal)
            }
        }
        return set
    }
}
