import KDL

/// `type "rate-limit"`: limits the request rate per key.
///
/// Sentinel uses a token bucket: `max-rps` tokens per second, up to `burst` extra requests
/// in a spike (the original parsed `burst` but used fixed 1-second windows).
public struct RateLimitFilterConfig: Sendable, Hashable {
    /// What happens to a request over the limit.
    public enum OnLimit: String, Sendable, Hashable {
        /// Answer `status-code` with `message` and `Retry-After` (the default).
        case reject
        /// Hold the request until a token is free, at most `max-delay-ms`; then reject.
        case delay
        /// Record the event and let the request through (for trying out limits).
        case logOnly = "log-only"
    }

    /// Where counters live.
    public enum Backend: Sendable, Hashable {
        /// In this process (the default). Each instance limits on its own.
        case local
        /// Shared through Redis (sliding window), for limits across several instances.
        case redis(Redis)
        /// Shared through Memcached (fixed window with TTL).
        case memcached(Memcached)

        public var name: String {
            switch self {
            case .local: return "local"
            case .redis: return "redis"
            case .memcached: return "memcached"
            }
        }
    }

    /// `redis-*` settings.
    public struct Redis: Sendable, Hashable {
        /// `redis-url`: server URL.
        public var url = "redis://127.0.0.1:6379"
        /// `redis-prefix`: prefix of every counter key.
        public var prefix = "sentinel:ratelimit:"
        /// `redis-pool-size`: connections kept open.
        public var poolSize = 10
        /// `redis-timeout-ms`: per-call timeout.
        public var timeout: Duration = .milliseconds(50)
        /// `redis-fallback`: on Redis errors, limit locally instead of failing.
        public var fallbackToLocal = true
        public init() {}
    }

    /// `memcached-*` settings.
    public struct Memcached: Sendable, Hashable {
        /// `memcached-url`: server URL.
        public var url = "memcache://127.0.0.1:11211"
        /// `memcached-prefix`: prefix of every counter key.
        public var prefix = "sentinel:ratelimit:"
        /// `memcached-pool-size`: connections kept open.
        public var poolSize = 10
        /// `memcached-timeout-ms`: per-call timeout.
        public var timeout: Duration = .milliseconds(50)
        /// `memcached-fallback`: on Memcached errors, limit locally instead of failing.
        public var fallbackToLocal = true
        /// `memcached-ttl`: counter lifetime in seconds.
        public var ttlSeconds = 2
        public init() {}
    }

    /// `max-rps`: sustained requests per second per key.
    public var maxRPS = 100
    /// `burst`: extra requests allowed in a spike above `max-rps`.
    public var burst = 10
    /// `key`: what requests are counted by.
    public var key: RateLimitKey = .clientIP
    /// `on-limit`: what happens over the limit.
    public var onLimit: OnLimit = .reject
    /// `status-code`: the status of a rejected request.
    public var statusCode = 429
    /// `message`: the plain-text body of a rejected request.
    public var message = "Rate limit exceeded"
    /// `max-delay-ms`: the longest a `delay` limiter holds a request.
    public var maxDelay: Duration = .milliseconds(5000)
    /// `max-keys`: the most keys tracked at once; idle keys are evicted first.
    public var maxKeys = 100_000
    /// `backend`: where counters live.
    public var backend: Backend = .local

    public init() {}

    static let redisKeys = ["redis-url", "redis-prefix", "redis-pool-size", "redis-timeout-ms", "redis-fallback"]
    static let memcachedKeys = ["memcached-url", "memcached-prefix", "memcached-pool-size", "memcached-timeout-ms", "memcached-fallback", "memcached-ttl"]

    static func read(from r: inout NodeReader) -> RateLimitFilterConfig {
        var c = RateLimitFilterConfig()
        c.maxRPS = r.int("max-rps", default: c.maxRPS, range: 1...10_000_000)
        c.burst = r.int("burst", default: c.burst, range: 0...10_000_000)
        c.key = RateLimitKey.read(&r, "key") ?? c.key
        c.onLimit = r.choice("on-limit", default: c.onLimit, options: [("reject", .reject), ("delay", .delay), ("log-only", .logOnly)])
        c.statusCode = r.int("status-code", default: c.statusCode, range: 400...599)
        c.message = r.string("message", allowEmpty: true) ?? c.message
        c.maxDelay = r.duration("max-delay-ms", unit: .milliseconds, default: c.maxDelay)!
        c.maxKeys = r.int("max-keys", default: c.maxKeys, range: 1...100_000_000)
        enum Kind { case local, redis, memcached }
        let backendKind = r.choice("backend", default: Kind.local, options: [("local", .local), ("memory", .local), ("redis", .redis), ("memcached", .memcached)])

        var redis = Redis()
        redis.url = r.string("redis-url") ?? redis.url
        redis.prefix = r.string("redis-prefix", allowEmpty: true) ?? redis.prefix
        redis.poolSize = r.int("redis-pool-size", default: redis.poolSize, range: 1...10_000)
        redis.timeout = r.duration("redis-timeout-ms", unit: .milliseconds, default: redis.timeout, min: .milliseconds(1))!
        redis.fallbackToLocal = r.bool("redis-fallback", default: redis.fallbackToLocal)

        var memcached = Memcached()
        memcached.url = r.string("memcached-url") ?? memcached.url
        memcached.prefix = r.string("memcached-prefix", allowEmpty: true) ?? memcached.prefix
        memcached.poolSize = r.int("memcached-pool-size", default: memcached.poolSize, range: 1...10_000)
        memcached.timeout = r.duration("memcached-timeout-ms", unit: .milliseconds, default: memcached.timeout, min: .milliseconds(1))!
        memcached.fallbackToLocal = r.bool("memcached-fallback", default: memcached.fallbackToLocal)
        memcached.ttlSeconds = r.int("memcached-ttl", default: memcached.ttlSeconds, range: 1...86_400)

        // Settings of a backend that is not selected would silently do nothing: say so.
        let (unused, backendName): ([String], String) = switch backendKind {
        case .local: (redisKeys + memcachedKeys, "local")
        case .redis: (memcachedKeys, "redis")
        case .memcached: (redisKeys, "memcached")
        }
        for child in r.node.children where unused.contains(child.name) {
            let wanted = child.name.hasPrefix("redis") ? "redis" : "memcached"
            r.sink.error(child.location, r.path.appending(child), "\"\(child.name)\" has no effect with backend \"\(backendName)\"",
                         hint: "add: backend \"\(wanted)\", or remove this setting")
        }
        switch backendKind {
        case .local: c.backend = .local
        case .redis: c.backend = .redis(redis)
        case .memcached: c.backend = .memcached(memcached)
        }
        if c.onLimit != .delay, r.has("max-delay-ms") {
            r.sink.warning(r.locationOf("max-delay-ms"), r.path, "\"max-delay-ms\" only applies with on-limit \"delay\"")
        }
        return c
    }

}
