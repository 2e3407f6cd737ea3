internal import CSentinelRateLimit
import Synchronization

/// A limiter in a running snapshot: its rule, its table in a region, and this process's counters.
///
/// `check` is what the request path calls: hash the key (no allocation), one CAS in the table,
/// a verdict. The region is retained for as long as the limiter lives.
public final class RateLimiter: Sendable {
    public let rule: RateLimitRule
    let table: KeyTable
    let region: RateLimitRegion
    /// The hasher after the key and the rule's identity: copied per request.
    let seed: SipHasher
    let maxDelay: UInt64

    /// Requests this process let through / found over the limit (rejected, delayed or logged).
    let admittedCount = Atomic<UInt64>(0)
    let limitedCount = Atomic<UInt64>(0)
    /// Live keys this process evicted to make room (the table's header counts all processes').
    let evictionCount = Atomic<UInt64>(0)

    init(rule: RateLimitRule, table: KeyTable, region: RateLimitRegion) {
        self.rule = rule
        self.table = table
        self.region = region
        var h = SipHasher(k0: region.hashKey.0, k1: region.hashKey.1)
        h.combine(contentsOf: rule.identity)
        seed = h
        if case .delay(let d) = rule.onLimit { maxDelay = d } else { maxDelay = 0 }
    }

    /// Limiters for these rules, their tables laid out in `region` in order (every worker with
    /// the same rules gets the same layout). Throws when the tables do not fit.
    public static func make(rules: [RateLimitRule], in region: RateLimitRegion) throws(RateLimitRegion.Failure) -> [RateLimiter] {
        guard let tables = region.tables(capacities: rules.map(\.capacity)) else {
            let need = RateLimitRegion.wordsNeeded(capacities: rules.map(\.capacity)) * 8
            throw RateLimitRegion.Failure(description:
                "the rate limiters' key tables need \(need >> 20) MiB, more than the \(region.wordCount * 8 >> 20) MiB shared region; lower max-keys")
        }
        return zip(rules, tables).map { RateLimiter(rule: $0, table: $1, region: region) }
    }

    /// Limiters in a region of their own (single process, tests).
    public static func makePrivate(rules: [RateLimitRule]) -> [RateLimiter] {
        let region = RateLimitRegion.makePrivate(bytes: RateLimitRegion.wordsNeeded(capacities: rules.map(\.capacity)) * 8)
        return try! make(rules: rules, in: region)
    }

    /// A hasher primed for this limiter: feed it the key's bytes, then `check(hash:)`.
    public var hasher: SipHasher { seed }

    /// The hash of a request's key from its parts (the ones the rule's key does not use are
    /// ignored): the client's address bytes, the path, the route id, the header's value (nil
    /// when the request has none: all such requests share one bucket).
    public func keyHash(clientIP: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer, route: UnsafeRawBufferPointer,
                        header: UnsafeRawBufferPointer?) -> UInt64 {
        var h = seed
        switch rule.key {
        case .clientIP: h.combine(clientIP)
        case .path: h.combine(path)
        case .route: h.combine(route)
        case .clientIPAndPath:
            h.combine(clientIP)
            h.combine(UInt8(0))
            h.combine(path)
        case .header:
            if let header {
                h.combine(UInt8(1))
                h.combine(header)
            } else {
                h.combine(UInt8(0))
            }
        }
        return h.finalize()
    }

    /// The verdict on one request whose key hashed to `hash`, at `now` (monotonic nanoseconds,
    /// `RateLimitClock`) and `wallClock` (Unix nanoseconds, for X-RateLimit-Reset).
    public func check(hash: UInt64, now: UInt64, wallClock: UInt64) -> RateLimitVerdict {
        var evicted = false
        let d = table.take(hash: hash, bucket: rule.bucket, now: now, maxDelay: maxDelay, evicted: &evicted)
        if evicted { evictionCount.add(1, ordering: .relaxed) }
        let v = RateLimitVerdict(decision: d, rule: rule, wallClockNanos: wallClock)
        if v.limited { limitedCount.add(1, ordering: .relaxed) } else { admittedCount.add(1, ordering: .relaxed) }
        return v
    }

    /// Counts a verdict reached elsewhere (Redis) in this limiter's counters.
    public func count(_ v: RateLimitVerdict) {
        if v.limited { limitedCount.add(1, ordering: .relaxed) } else { admittedCount.add(1, ordering: .relaxed) }
    }

    /// The verdict on one request, by this machine's clocks.
    public func check(hash: UInt64) -> RateLimitVerdict {
        check(hash: hash, now: RateLimitClock.monotonicNanos(), wallClock: RateLimitClock.wallNanos())
    }

    public struct Counters: Sendable, Hashable {
        public var admitted: UInt64
        public var limited: UInt64
        /// Keys with a live bucket now (all processes sharing the table).
        public var keys: Int
        /// Live keys this process evicted to stay within max-keys (summed over workers, the
        /// instance's total).
        public var evictions: UInt64
    }

    /// This process's counters and the shared table's gauges; sweeps idle slots first.
    public func counters(now: UInt64 = RateLimitClock.monotonicNanos()) -> Counters {
        table.sweep(now: now)
        return Counters(admitted: admittedCount.load(ordering: .relaxed), limited: limitedCount.load(ordering: .relaxed),
                        keys: table.liveKeys(now: now), evictions: evictionCount.load(ordering: .relaxed))
    }
}

/// The clocks the request path passes to `RateLimiter.check`.
public enum RateLimitClock {
    /// CLOCK_MONOTONIC, nanoseconds: the same clock in every process of the machine.
    @inline(__always) public static func monotonicNanos() -> UInt64 { sentinel_rl_monotonic_ns() }
    /// Unix time, nanoseconds.
    @inline(__always) public static func wallNanos() -> UInt64 { sentinel_rl_realtime_ns() }
}
