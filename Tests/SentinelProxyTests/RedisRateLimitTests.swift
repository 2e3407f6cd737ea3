import Foundation
import SentinelConfig
import SentinelRuntime
import SentinelTestSupport
import Testing

@testable import SentinelProxy

/// `backend "redis"` against a real redis-server: the bucket lives in Redis (two Sentinel
/// instances share it), and when Redis is down or slow the local limiter decides, until Redis
/// answers again.
@Suite(.serialized) struct RedisRateLimitTests {
    static func config(redisPort: Int, prefix: String, fallback: Bool = true, rps: Int = 1, burst: Int = 2, pool: Int = 2) -> String {
        """
        system { worker-threads 1 }
        listeners { listener "http" { address "127.0.0.1:0" } }
        filters {
            filter "rl" {
                type "rate-limit"; max-rps \(rps); burst \(burst)
                backend "redis"; redis-url "redis://127.0.0.1:\(redisPort)"; redis-prefix "\(prefix)"
                redis-timeout-ms 100; redis-pool-size \(pool); redis-fallback #\(fallback)
            }
        }
        routes { route "h" { matches { path "/health" }; filters "rl"; builtin-handler "health" } }
        """
    }

    static func get(_ port: Int) throws -> Int {
        try RawClient(port: port).request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n").status
    }

    @Test func twoInstancesOnOneRedisShareOneBucket() async throws {
        let redis = try RedisServer()
        let text = Self.config(redisPort: redis.port, prefix: "two:")
        try await withProxy(try ServerSnapshot.fromConfig(text)) { a, portA async throws in
            try await withProxy(try ServerSnapshot.fromConfig(text)) { _, portB async throws in
                #expect(try Self.get(portA) == 200)
                #expect(try Self.get(portB) == 200)
                // The burst of 2 is spent, across both instances.
                #expect(try Self.get(portA) == 429)
                #expect(try Self.get(portB) == 429)
                // The bucket is Redis's key <prefix><client ip>, expiring when the bucket is full again.
                #expect(RedisServer.command(redis.port, "EXISTS", "two:127.0.0.1") == ":1\r\n")
                let metrics = a.metrics.render(version: "t")
                #expect(metrics.contains(#"sentinel_rate_limit_redis_up{limiter="rl"} 1"#))
                #expect(metrics.contains(#"sentinel_rate_limit_redis_fallbacks_total{limiter="rl"} 0"#))
            }
        }
    }

    /// Redis down: the local limiter decides at once; Redis back: requests go to Redis again.
    /// Redis slow (DEBUG SLEEP): each request waits at most the call timeout, then the local
    /// limiter decides.
    @Test func downThenRecoveredThenSlow() async throws {
        let port = try freePort()
        // One connection, so "down", "recovered" and "slow" are the states of the same one.
        let text = Self.config(redisPort: port, prefix: "dsr:", rps: 1000, burst: 1000, pool: 1)
        try await withProxy(try ServerSnapshot.fromConfig(text)) { server, proxyPort async throws in
            // Down: no server on the port.
            let clock = ContinuousClock()
            let start = clock.now
            #expect(try Self.get(proxyPort) == 200)
            #expect(clock.now - start < .seconds(2))
            var metrics = server.metrics.render(version: "t")
            #expect(metrics.contains(#"sentinel_rate_limit_redis_up{limiter="rl"} 0"#))
            #expect(!metrics.contains(#"sentinel_rate_limit_redis_fallbacks_total{limiter="rl"} 0"#))

            // Recovered: Redis starts on that port; within the reconnect backoff requests reach it.
            let redis = try RedisServer(port: port)
            #expect(pollUntil(timeout: .seconds(10)) {
                (try? Self.get(proxyPort)) == 200 && RedisServer.command(port, "EXISTS", "dsr:127.0.0.1") == ":1\r\n"
            })
            metrics = server.metrics.render(version: "t")
            #expect(metrics.contains(#"sentinel_rate_limit_redis_up{limiter="rl"} 1"#))

            // Slow: Redis sleeps 2 s; a request is answered after about the 100 ms timeout.
            redis.sleep(seconds: 2)
            // Busy once a PING goes unanswered for 50 ms.
            try #require(pollUntil(timeout: .seconds(5)) { !RedisServer.quick(port) })
            let slowStart = clock.now
            #expect(try Self.get(proxyPort) == 200)
            #expect(clock.now - slowStart < .milliseconds(1500))
            metrics = server.metrics.render(version: "t")
            #expect(!metrics.contains(#"sentinel_rate_limit_redis_calls_total{limiter="rl",result="timeout"} 0"#), "\(metrics)")
        }
    }

    @Test func withoutFallbackARedisFailureRefusesTheRequest() async throws {
        let port = try freePort()
        try await withProxy(try ServerSnapshot.fromConfig(Self.config(redisPort: port, prefix: "nf:", fallback: false))) { _, proxyPort async throws in
            #expect(try Self.get(proxyPort) == 503)
        }
    }

    @Test func redisURLsWithAPasswordOrDatabaseAreRefused() {
        #expect(RedisRateLimiter.endpoint("redis://127.0.0.1:6380") == .init(host: "127.0.0.1", port: 6380))
        #expect(RedisRateLimiter.endpoint("redis://cache") == .init(host: "cache", port: 6379))
        #expect(RedisRateLimiter.endpoint("redis://[::1]:7000") == .init(host: "::1", port: 7000))
        #expect(RedisRateLimiter.endpoint("redis://:secret@host:6379") == nil)
        #expect(RedisRateLimiter.endpoint("redis://host:6379/2") == nil)
        #expect(RedisRateLimiter.endpoint("rediss://host") == nil)
        #expect(throws: (any Error).self) {
            _ = try ServerSnapshot.fromConfig(Self.config(redisPort: 1, prefix: "x").replacingOccurrences(of: "redis://127.0.0.1:1", with: "redis://h:1/3"))
        }
    }
}
