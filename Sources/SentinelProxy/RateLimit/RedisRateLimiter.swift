import NIOCore
import NIOPosix
public import SentinelRateLimit
import Synchronization

/// A `rate-limit` filter with `backend "redis"`: the token bucket lives in Redis
/// (`RedisBucket`), so every Sentinel instance using the same server and prefix shares it.
///
/// Calls go over a small pool of pipelined connections (`redis-pool-size`) on NIO's shared event
/// loops, never on the connection's loop of the request, which only waits (the async filter
/// seam). Each call has `redis-timeout-ms`; when Redis is down, slow or answers nonsense, the
/// verdict comes from the filter's local limiter (`redis-fallback #true`, the default) or the
/// filter fails (its failure mode applies: closed, 503). Health is visible in
/// `sentinel_rate_limit_redis_up` and the call counters.
public final class RedisRateLimiter: Sendable {
    public let rule: RateLimitRule
    let prefix: String
    let fallbackToLocal: Bool
    /// The local limiter of the same rule (the fallback, and the owner of the metrics label).
    let local: RateLimiter
    let connections: [RedisConnection]
    let maxDelay: UInt64
    private let next = Atomic<Int>(0)
    let up = Atomic<Bool>(true)
    let ok = Atomic<UInt64>(0)
    let timeouts = Atomic<UInt64>(0)
    let downs = Atomic<UInt64>(0)
    let busy = Atomic<UInt64>(0)
    let protocolErrors = Atomic<UInt64>(0)
    let fallbacks = Atomic<UInt64>(0)

    public struct Endpoint: Sendable, Equatable {
        public var host: String
        public var port: Int
    }

    /// `redis://host[:port]` (port 6379 by default); nil for anything else (a password, a
    /// database number, TLS): not supported yet.
    public static func endpoint(_ url: String) -> Endpoint? {
        guard url.hasPrefix("redis://") else { return nil }
        var rest = Substring(url.dropFirst("redis://".count))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains("@"), !rest.contains("/") else { return nil }
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            let host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.isEmpty { return Endpoint(host: host, port: 6379) }
            guard after.hasPrefix(":"), let port = Int(after.dropFirst()), (1...65535).contains(port) else { return nil }
            return Endpoint(host: host, port: port)
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 1 { return Endpoint(host: String(parts[0]), port: 6379) }
        guard parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
        return Endpoint(host: String(parts[0]), port: port)
    }

    public init(local: RateLimiter, endpoint: Endpoint, prefix: String, poolSize: Int, timeout: Duration, fallbackToLocal: Bool) {
        self.rule = local.rule
        self.local = local
        self.prefix = prefix
        self.fallbackToLocal = fallbackToLocal
        let (s, a) = timeout.components
        let ns = max(1_000_000, s * 1_000_000_000 + a / 1_000_000_000)
        let group = MultiThreadedEventLoopGroup.singleton
        connections = (0..<max(1, poolSize)).map { _ in
            RedisConnection(loop: group.next(), host: endpoint.host, port: endpoint.port, timeout: .nanoseconds(ns))
        }
        if case .delay(let d) = local.rule.onLimit { maxDelay = d } else { maxDelay = 0 }
        for c in connections { c.prewarm() }
    }

    deinit { for c in connections { c.close() } }

    /// What a call decided.
    enum Outcome: Sendable {
        /// Redis's verdict.
        case redis(RateLimitVerdict)
        /// Redis failed; the local limiter's verdict.
        case fallback(RateLimitVerdict, RedisCallError)
        /// Redis failed and there is no fallback.
        case failed(RedisCallError)
    }

    /// Asks Redis about one request of `key` (the bytes after the prefix); `done` runs once, on
    /// a Redis connection's loop. `localHash`: the key's hash for the local fallback.
    func check(key: String, localHash: UInt64, _ done: @escaping @Sendable (Outcome) -> Void) {
        let full = Array((prefix + key).utf8)
        let connection = connections[next.add(1, ordering: .relaxed).newValue % connections.count]
        let bucket = rule.bucket
        let maxDelay = self.maxDelay
        connection.call(RedisBucket.evalsha(key: full, bucket: bucket, maxDelay: maxDelay)) { result in
            if case .success(.error(let e)) = result, e.hasPrefix("NOSCRIPT") {
                // First use on this server: send the script itself (Redis caches it for EVALSHA).
                connection.call(RedisBucket.eval(key: full, bucket: bucket, maxDelay: maxDelay)) { self.finish($0, localHash, done) }
                return
            }
            self.finish(result, localHash, done)
        }
    }

    private func finish(_ result: Result<RESPValue, RedisCallError>, _ localHash: UInt64, _ done: @Sendable (Outcome) -> Void) {
        let failure: RedisCallError
        switch result {
        case .success(let reply):
            if let d = RedisBucket.decision(reply) {
                ok.add(1, ordering: .relaxed)
                up.store(true, ordering: .relaxed)
                let v = RateLimitVerdict(decision: d, rule: rule, wallClockNanos: RateLimitClock.wallNanos())
                local.count(v)
                return done(.redis(v))
            }
            failure = .protocolError
        case .failure(let e):
            failure = e
        }
        switch failure {
        case .timeout: timeouts.add(1, ordering: .relaxed)
        case .down: downs.add(1, ordering: .relaxed)
        case .busy: busy.add(1, ordering: .relaxed)
        case .protocolError: protocolErrors.add(1, ordering: .relaxed)
        }
        up.store(false, ordering: .relaxed)
        guard fallbackToLocal else { return done(.failed(failure)) }
        fallbacks.add(1, ordering: .relaxed)
        done(.fallback(local.check(hash: localHash), failure))
    }

    func render(into out: inout String) {
        let l = MetricsRegistry.labelValue(rule.scope)
        out += "sentinel_rate_limit_redis_calls_total{limiter=\(l),result=\"ok\"} \(ok.load(ordering: .relaxed))\n"
        out += "sentinel_rate_limit_redis_calls_total{limiter=\(l),result=\"timeout\"} \(timeouts.load(ordering: .relaxed))\n"
        out += "sentinel_rate_limit_redis_calls_total{limiter=\(l),result=\"down\"} \(downs.load(ordering: .relaxed))\n"
        out += "sentinel_rate_limit_redis_calls_total{limiter=\(l),result=\"busy\"} \(busy.load(ordering: .relaxed))\n"
        out += "sentinel_rate_limit_redis_calls_total{limiter=\(l),result=\"protocol_error\"} \(protocolErrors.load(ordering: .relaxed))\n"
    }
}
