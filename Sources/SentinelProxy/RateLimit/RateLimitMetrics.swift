public import Logging
import SentinelObservability
public import SentinelRateLimit
import Synchronization

/// The rate limiters of the snapshot in service, for the metrics scrape, and the bounded log of
/// limited requests.
///
/// `sentinel_rate_limit_requests_total{limiter,result}` (admitted, limited) and
/// `sentinel_rate_limit_key_evictions_total{limiter}` count this process's decisions (the
/// `sentinel-stack` master sums its workers'); `sentinel_rate_limit_keys{limiter}` is the live
/// keys of the limiter's table, which the workers share (the master takes the largest report,
/// not the sum). Labels are limiter ids from the configuration: bounded by it.
public final class RateLimitMetrics: Sendable {
    private struct State {
        var limiters: [RateLimiter] = []
        var redis: [RedisRateLimiter] = []
        var logger: Logger?
        /// Per limiter: the second of its last log line and the limited requests not logged since.
        var lastLogged: [String: (second: UInt64, suppressed: UInt64)] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// The limiters of the snapshot now in service (a reload replaces them).
    public func install(_ limiters: [RateLimiter], redis: [RedisRateLimiter] = []) {
        state.withLock {
            $0.limiters = limiters
            $0.redis = redis
        }
    }

    public func setLogger(_ logger: Logger?) {
        state.withLock { $0.logger = logger }
    }

    /// Logs a limited request: at most one line per limiter per second, saying how many were
    /// not logged since the previous line.
    func limited(_ limiter: RateLimiter, _ v: RateLimitVerdict, route: String, client: String, action: String) {
        let second = RateLimitClock.monotonicNanos() / 1_000_000_000
        let scope = limiter.rule.scope
        let (logger, suppressed): (Logger?, UInt64?) = state.withLock { s in
            guard let logger = s.logger else { return (nil, nil) }
            if let last = s.lastLogged[scope], last.second == second {
                s.lastLogged[scope] = (second, last.suppressed + 1)
                return (nil, nil)
            }
            let suppressed = s.lastLogged[scope]?.suppressed ?? 0
            s.lastLogged[scope] = (second, 0)
            return (logger, suppressed)
        }
        guard let logger, let suppressed else { return }
        logger.emit("info", "rate_limited", [
            "limiter": .string(scope), "route": .string(route), "client": .string(client), "action": .string(action),
            "limit": .string(String(v.limit)), "retry_after_secs": .string(String(v.retryAfterSeconds)),
            "not_logged_since_last": .string(String(suppressed)),
        ])
    }

    func render() -> String {
        let (limiters, redis) = state.withLock { ($0.limiters, $0.redis) }
        guard !limiters.isEmpty else { return "" }
        let counters = limiters.map { ($0.rule.scope, $0.counters()) }
        var out = "# HELP sentinel_rate_limit_requests_total Requests rate limiters looked at, by limiter and result.\n"
        out += "# TYPE sentinel_rate_limit_requests_total counter\n"
        for (scope, c) in counters {
            let l = MetricsRegistry.labelValue(scope)
            out += "sentinel_rate_limit_requests_total{limiter=\(l),result=\"admitted\"} \(c.admitted)\n"
            out += "sentinel_rate_limit_requests_total{limiter=\(l),result=\"limited\"} \(c.limited)\n"
        }
        out += "# HELP sentinel_rate_limit_keys Keys with a live bucket in the limiter's table (shared by the instance's workers).\n"
        out += "# TYPE sentinel_rate_limit_keys gauge\n"
        for (scope, c) in counters { out += "sentinel_rate_limit_keys{limiter=\(MetricsRegistry.labelValue(scope))} \(c.keys)\n" }
        out += "# HELP sentinel_rate_limit_key_evictions_total Live keys evicted to keep a limiter within max-keys.\n"
        out += "# TYPE sentinel_rate_limit_key_evictions_total counter\n"
        for (scope, c) in counters {
            out += "sentinel_rate_limit_key_evictions_total{limiter=\(MetricsRegistry.labelValue(scope))} \(c.evictions)\n"
        }
        guard !redis.isEmpty else { return out }
        out += "# HELP sentinel_rate_limit_redis_up Whether the limiter's last Redis call was answered (0: limiting locally or failing).\n"
        out += "# TYPE sentinel_rate_limit_redis_up gauge\n"
        for r in redis {
            out += "sentinel_rate_limit_redis_up{limiter=\(MetricsRegistry.labelValue(r.rule.scope))} \(r.up.load(ordering: .relaxed) ? 1 : 0)\n"
        }
        out += "# HELP sentinel_rate_limit_redis_calls_total Redis calls of rate limiters, by result.\n"
        out += "# TYPE sentinel_rate_limit_redis_calls_total counter\n"
        for r in redis { r.render(into: &out) }
        out += "# HELP sentinel_rate_limit_redis_fallbacks_total Requests decided by the local limiter because Redis failed.\n"
        out += "# TYPE sentinel_rate_limit_redis_fallbacks_total counter\n"
        for r in redis {
            out += "sentinel_rate_limit_redis_fallbacks_total{limiter=\(MetricsRegistry.labelValue(r.rule.scope))} \(r.fallbacks.load(ordering: .relaxed))\n"
        }
        return out
    }
}

/// What a snapshot's rate-limit filters report to: the registry of the server that serves the
/// snapshot, attached when it goes into service (filters are made before any server exists).
public final class RateLimitEvents: Sendable {
    private let sink = Mutex<RateLimitMetrics?>(nil)

    public init() {}

    func attach(_ metrics: RateLimitMetrics) { sink.withLock { $0 = metrics } }

    func limited(_ limiter: RateLimiter, _ v: RateLimitVerdict, route: String, client: String, action: String) {
        sink.withLock { $0 }?.limited(limiter, v, route: route, client: client, action: action)
    }
}
