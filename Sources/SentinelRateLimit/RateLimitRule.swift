/// One limiter's settings, as the snapshot builder makes them from a `rate-limit` filter or the
/// `rate-limits { global { … } }` block. Plain values: no clock, no memory.
public struct RateLimitRule: Sendable, Hashable {
    /// What requests are counted by.
    public enum Key: Sendable, Hashable {
        case clientIP
        case path
        case route
        case clientIPAndPath
        /// A request header's value (name compared without case); requests without it share one bucket.
        case header(String)
    }

    /// What happens to a request over the limit.
    public enum OnLimit: Sendable, Hashable {
        /// Answer `status` with `message`, `Retry-After` and the X-RateLimit-* headers.
        case reject
        /// Hold the request until its token is due, at most `maxDelay` nanoseconds; reject beyond that.
        case delay(maxDelay: UInt64)
        /// Count and log it, and let it through.
        case logOnly
    }

    /// The metrics label and log name: the filter id, or "global".
    public var scope: String
    /// Where the rule comes from ("filter", "global"): part of its identity, so a filter named
    /// "global" never shares buckets with the global limiter.
    public var origin: String = "filter"
    public var bucket: TokenBucket
    public var key: Key
    public var onLimit: OnLimit
    public var status: Int
    public var message: String
    /// The most keys tracked at once (the table holds the next power of two).
    public var maxKeys: Int

    public init(scope: String, ratePerSecond: Int, burst: Int, key: Key = .clientIP, onLimit: OnLimit = .reject,
                status: Int = 429, message: String = "Rate limit exceeded", maxKeys: Int = 100_000) {
        self.scope = scope
        self.bucket = TokenBucket(ratePerSecond: ratePerSecond, burst: burst)
        self.key = key
        self.onLimit = onLimit
        self.status = status
        self.message = message
        self.maxKeys = max(1, maxKeys)
    }

    /// Slots of this rule's table.
    public var capacity: Int { KeyTable.capacity(forMaxKeys: maxKeys) }

    /// The words hashed before every key of this rule: two limiters never share a bucket, and a
    /// changed rate, burst or key after a reload starts from fresh buckets.
    var identity: [UInt8] {
        Array("\(origin)\u{0}\(scope)\u{0}\(bucket.rate)\u{0}\(bucket.capacity)\u{0}\(key)\u{0}".utf8)
    }
}
