import Dispatch
import SentinelFormat
import SentinelHTTP1
import Synchronization
public import SentinelRateLimit

/// `type "rate-limit"` (and the `rate-limits { global }` limiter, first in every route's chain):
/// hashes the request's key, takes a token from its bucket (one CAS in the table the instance's
/// workers share) and lets the request through, answers it (reject), holds it (delay), or lets
/// it through and logs it (log-only).
///
/// No allocation when the request passes: the key's bytes are hashed where they lie (the client
/// address and route id as the host holds them, the path in the head's bytes); only a header
/// key copies the header's value.
struct RateLimitFilter: RequestFilter {
    let limiter: RateLimiter
    /// The header a `header:<Name>` key reads, its name in lower case.
    let headerName: [UInt8]?
    /// The rejection's JSON body, made once.
    let body: String
    let events: RateLimitEvents
    /// `backend "redis"`: the shared bucket (the local limiter is its fallback).
    let redis: RedisRateLimiter?

    init(limiter: RateLimiter, events: RateLimitEvents, redis: RedisRateLimiter? = nil) {
        self.limiter = limiter
        self.events = events
        self.redis = redis
        if case .header(let name) = limiter.rule.key { headerName = Array(name.lowercased().utf8) } else { headerName = nil }
        body = "{\"error\":\(JSONString.quoted(limiter.rule.message)),\"status\":\(limiter.rule.status)}"
    }

    var mayWait: Bool {
        if redis != nil { return true }
        if case .delay = limiter.rule.onLimit { return true }
        return false
    }

    func onRequest(_ request: borrowing FilterRequest, effects: inout FilterEffects) -> FilterDecision {
        let hash = keyHash(request)
        if let redis, let waker = request.waker {
            return askRedis(redis, request, hash: hash, waker: waker)
        }
        let v = limiter.check(hash: hash)
        switch v.action {
        case .proceed:
            effects.rateLimited(v)
            return .next
        case .logOnly:
            events.limited(limiter, v, route: request.routeID, client: request.clientAddress, action: "log-only")
            effects.rateLimited(v)
            return .next
        case .reject:
            events.limited(limiter, v, route: request.routeID, client: request.clientAddress, action: "reject")
            return .answer(Self.rejection(v, rule: limiter.rule, body: body))
        case .delay(let ns):
            events.limited(limiter, v, route: request.routeID, client: request.clientAddress, action: "delay")
            guard let waker = request.waker else { return .next }
            let pending = DelayedRequest()
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(min(ns, UInt64(Int.max))))) {
                if !pending.isCancelled { waker.resume(.admitted(v)) }
            }
            return .wait(pending)
        }
    }

    /// Sends the request's key to Redis and waits; the verdict (Redis's, or the local
    /// fallback's) comes back through `waker`.
    private func askRedis(_ redis: RedisRateLimiter, _ request: borrowing FilterRequest, hash: UInt64, waker: FilterWaker) -> FilterDecision {
        let key = redisKey(request)
        let pending = DelayedRequest()
        let route = request.routeID
        let client = request.clientAddress
        let limiter = self.limiter
        let events = self.events
        let body = self.body
        redis.check(key: key, localHash: hash) { outcome in
            let v: RateLimitVerdict
            switch outcome {
            case .redis(let verdict), .fallback(let verdict, _): v = verdict
            case .failed(let e):
                waker.resume(.failed(e == .timeout ? .timeout : .unavailable("redis: \(e)")))
                return
            }
            switch v.action {
            case .proceed:
                waker.resume(.admitted(v))
            case .logOnly:
                events.limited(limiter, v, route: route, client: client, action: "log-only")
                waker.resume(.admitted(v))
            case .reject:
                events.limited(limiter, v, route: route, client: client, action: "reject")
                waker.resume(.answer(Self.rejection(v, rule: limiter.rule, body: body)))
            case .delay(let ns):
                events.limited(limiter, v, route: route, client: client, action: "delay")
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(min(ns, UInt64(Int.max))))) {
                    if !pending.isCancelled { waker.resume(.admitted(v)) }
                }
            }
        }
        return .wait(pending)
    }

    /// The request's key as the original names it in Redis (after the prefix): the client
    /// address, the path, the route id, `<ip>:<path>`, or the header's value ("unknown" without).
    func redisKey(_ request: borrowing FilterRequest) -> String {
        let bytes = request.bytes
        let range = request.head.path.clamped(to: 0..<bytes.count)
        let path = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        let text = RedisBucket.key(prefix: "", rule: limiter.rule.key, clientIP: request.clientAddress, path: path,
                                   route: request.routeID, header: headerName.flatMap { request.header($0) })
        return String(decoding: text, as: UTF8.self)
    }

    /// The answer to a request over the limit: the rule's status, its message as JSON, and the
    /// X-RateLimit-* fields with Retry-After.
    static func rejection(_ v: RateLimitVerdict, rule: RateLimitRule, body: String) -> LocalAnswer {
        LocalAnswer(status: rule.status, content: .json(body), fields: v.headers.map { LocalAnswer.Field(name: $0.0, value: $0.1) },
                    keepAlive: true, error: nil)
    }

    func keyHash(_ request: borrowing FilterRequest) -> UInt64 {
        let path = request.head.path
        let bytes = request.bytes
        let pathBytes = UnsafeRawBufferPointer(rebasing: bytes[path.clamped(to: 0..<bytes.count)])
        var client = request.clientAddress
        var route = request.routeID
        if let headerName {
            let value = request.header(headerName)
            return client.withUTF8 { c in
                route.withUTF8 { r in
                    if var value {
                        return value.withUTF8 { limiter.keyHash(clientIP: UnsafeRawBufferPointer(c), path: pathBytes, route: UnsafeRawBufferPointer(r), header: UnsafeRawBufferPointer($0)) }
                    }
                    return limiter.keyHash(clientIP: UnsafeRawBufferPointer(c), path: pathBytes, route: UnsafeRawBufferPointer(r), header: nil)
                }
            }
        }
        return client.withUTF8 { c in
            route.withUTF8 { r in
                limiter.keyHash(clientIP: UnsafeRawBufferPointer(c), path: pathBytes, route: UnsafeRawBufferPointer(r), header: nil)
            }
        }
    }
}

/// A request held by `on-limit "delay"` until its token is due.
final class DelayedRequest: PendingFilter {
    private let cancelled = Atomic<Bool>(false)

    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    func cancel(_ reason: FilterCancelReason) { cancelled.store(true, ordering: .releasing) }
}

extension FilterChain.Entry {
    /// A rate-limit filter's place in a chain (`type "rate-limit"`, or `rate-limits { global }`).
    /// A limiter cannot fail (its table is memory), so its failure mode is never used.
    public static func rateLimit(id: String, limiter: RateLimiter, events: RateLimitEvents) -> FilterChain.Entry {
        FilterChain.Entry(id: id, type: "rate-limit", failureMode: .open, filter: RateLimitFilter(limiter: limiter, events: events))
    }

    /// A rate-limit filter on Redis. Without `redis-fallback` a Redis failure refuses the request
    /// (failure mode closed: 503, or 504 on a timeout).
    public static func rateLimit(id: String, redis: RedisRateLimiter, events: RateLimitEvents) -> FilterChain.Entry {
        FilterChain.Entry(id: id, type: "rate-limit", failureMode: redis.fallbackToLocal ? .open : .closed,
                          filter: RateLimitFilter(limiter: redis.local, events: events, redis: redis))
    }
}
