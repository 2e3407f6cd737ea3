/// What the host does with one request after a limiter looked at it, and the values of the
/// X-RateLimit-* headers. Pure: built from a `TokenBucket.Decision` and the rule.
public struct RateLimitVerdict: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        /// Let it through now.
        case proceed
        /// Let it through after this many nanoseconds.
        case delay(nanoseconds: UInt64)
        /// Answer with the rule's status and message (`RateLimitVerdict.headers`).
        case reject
        /// Over the limit, but `on-limit "log-only"`: log and let it through.
        case logOnly
    }

    public var action: Action
    /// X-RateLimit-Limit: requests a second (`max-rps`).
    public var limit: Int
    /// X-RateLimit-Remaining: whole tokens left.
    public var remaining: Int
    /// X-RateLimit-Reset: Unix time (seconds, rounded up) at which the bucket is full again.
    public var resetEpochSeconds: UInt64
    /// Retry-After in whole seconds (at least 1) for a rejected request; 0 otherwise.
    public var retryAfterSeconds: UInt64

    /// Was the request over the limit (rejected, delayed or logged)?
    public var limited: Bool {
        if case .proceed = action { return false }
        return true
    }

    public init(decision d: TokenBucket.Decision, rule: RateLimitRule, wallClockNanos: UInt64) {
        switch d.outcome {
        case .admitted: action = .proceed
        case .delayed(let ns): action = .delay(nanoseconds: ns)
        case .limited:
            switch rule.onLimit {
            case .logOnly: action = .logOnly
            case .reject, .delay: action = .reject
            }
        }
        limit = rule.bucket.rate
        remaining = d.remaining
        resetEpochSeconds = Self.ceilSeconds(wallClockNanos &+ d.fullAfter)
        retryAfterSeconds = action == .reject ? max(1, Self.ceilSeconds(d.retryAfter)) : 0
    }

    static func ceilSeconds(_ ns: UInt64) -> UInt64 { (ns / 1_000_000_000) + (ns % 1_000_000_000 == 0 ? 0 : 1) }

    /// The response headers of a rejected request (and, without Retry-After, of an admitted one).
    public var headers: [(String, String)] {
        var h: [(String, String)] = [
            ("X-RateLimit-Limit", String(limit)),
            ("X-RateLimit-Remaining", String(remaining)),
            ("X-RateLimit-Reset", String(resetEpochSeconds)),
        ]
        if retryAfterSeconds > 0 { h.append(("Retry-After", String(retryAfterSeconds))) }
        return h
    }
}
