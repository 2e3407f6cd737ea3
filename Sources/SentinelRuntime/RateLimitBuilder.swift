public import SentinelConfig
public import SentinelRateLimit

/// The snapshot's rate limiters, made from the configuration: one per `rate-limit` filter (keyed
/// by filter id, in configuration order) and the `rate-limits { global { … } }` limiter.
///
/// Their tables are laid out in the process's region in a fixed order (global, then filters in
/// configuration order), so every worker of a generation, having the same configuration, gets
/// the same layout in the region they share.
public struct RateLimitSet: Sendable {
    /// In front of every route (`rate-limits { global { … } }`).
    public var global: RateLimiter?
    /// By filter id.
    public var filters: [String: RateLimiter] = [:]

    public var all: [RateLimiter] { (global.map { [$0] } ?? []) + filters.values.sorted { $0.rule.scope < $1.rule.scope } }

    public init(global: RateLimiter? = nil, filters: [String: RateLimiter] = [:]) {
        self.global = global
        self.filters = filters
    }
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

    /// Every limiter of `config` (all scopes' filters), in `region`.
    public static func build(_ config: SentinelConfiguration, region: RateLimitRegion) throws(RateLimitRegion.Failure) -> RateLimitSet {
        var rules: [RateLimitRule] = []
        if let g = config.rateLimits?.global { rules.append(rule(global: g)) }
        let filters = config.filters + config.namespaces.flatMap { $0.filters + $0.services.flatMap(\.filters) }
        for f in filters {
            if case .rateLimit(let c) = f.kind { rules.append(rule(id: f.id, c)) }
        }
        guard !rules.isEmpty else { return RateLimitSet() }
        let limiters = try RateLimiter.make(rules: rules, in: region)
        var set = RateLimitSet()
        for l in limiters {
            if l.rule.origin == "global" { set.global = l } else { set.filters[l.rule.scope] = l }
        }
        return set
    }
}
