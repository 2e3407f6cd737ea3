import SentinelConfig
import SentinelRuntime
import SentinelTestSupport
import Testing

@testable import SentinelProxy

/// The `rate-limit` filter and `rate-limits { global }` from configuration text to the wire.
@Suite(.serialized) struct RateLimitFilterTests {
    static func serve(_ filters: String, routeFilters: String, extra: String = "", _ body: (Int) throws -> Void) async throws {
        let text = """
            system { worker-threads 1 }
            listeners { listener "http" { address "127.0.0.1:0" } }
            filters { \(filters) }
            routes {
                route "h" { matches { path-prefix "/health" }; \(routeFilters) builtin-handler "health" }
                route "free" { matches { path "/free" }; builtin-handler "health" }
            }
            \(extra)
            """
        try await withProxy(try ServerSnapshot.fromConfig(text)) { _, port in try body(port) }
    }

    static func get(_ client: RawClient, _ path: String = "/health", headers: String = "") throws -> RawClient.Response {
        try client.request("GET \(path) HTTP/1.1\r\nHost: t\r\n\(headers)\r\n")
    }

    /// A burst of 3 passes at once; the 4th gets the configured status, message and headers, on
    /// a connection that stays open.
    @Test func theBurstPassesThenTheRejectionCarriesRetryAfterAndTheLimitHeaders() async throws {
        try await Self.serve(#"filter "rl" { type "rate-limit"; max-rps 1; burst 3; status-code 503; message "slow down" }"#,
                             routeFilters: #"filters "rl";"#) { port in
            let c = try RawClient(port: port)
            for _ in 0..<3 { #expect(try Self.get(c).status == 200) }
            let r = try Self.get(c)
            #expect(r.status == 503)
            #expect(r.body.contains("\"error\":\"slow down\""))
            #expect(r.header("Retry-After") == "1")
            #expect(r.header("X-RateLimit-Limit") == "1")
            #expect(r.header("X-RateLimit-Remaining") == "0")
            #expect(Int(r.header("X-RateLimit-Reset") ?? "") ?? 0 > 1_700_000_000)
            // The connection is kept: the next request on it is answered (and still limited).
            #expect(try Self.get(c).status == 503)
            // A route without the filter is not limited.
            #expect(try Self.get(c, "/free").status == 200)
        }
    }

    @Test func eachHeaderValueHasItsOwnBucket() async throws {
        try await Self.serve(#"filter "rl" { type "rate-limit"; max-rps 1; burst 1; key "header:X-Api-Key" }"#,
                             routeFilters: #"filters "rl";"#) { port in
            let c = try RawClient(port: port)
            #expect(try Self.get(c, headers: "X-Api-Key: a\r\n").status == 200)
            #expect(try Self.get(c, headers: "X-Api-Key: a\r\n").status == 429)
            #expect(try Self.get(c, headers: "X-Api-Key: b\r\n").status == 200)
            #expect(try Self.get(c).status == 200)
            #expect(try Self.get(c).status == 429)
        }
    }

    @Test func eachPathHasItsOwnBucketWithKeyPath() async throws {
        try await Self.serve(#"filter "rl" { type "rate-limit"; max-rps 1; burst 1; key "path" }"#,
                             routeFilters: #"filters "rl";"#) { port in
            let c = try RawClient(port: port)
            #expect(try Self.get(c, "/health/a").status == 200)
            #expect(try Self.get(c, "/health/a").status == 429)
            #expect(try Self.get(c, "/health/b").status == 200)
        }
    }

    @Test func logOnlyLetsEveryRequestThroughAndCountsTheLimited() async throws {
        let text = """
            system { worker-threads 1 }
            listeners { listener "http" { address "127.0.0.1:0" } }
            filters { filter "rl" { type "rate-limit"; max-rps 1; burst 1; on-limit "log-only" } }
            routes { route "h" { matches { path "/health" }; filters "rl"; builtin-handler "health" } }
            """
        try await withProxy(try ServerSnapshot.fromConfig(text)) { server, port in
            let c = try RawClient(port: port)
            for _ in 0..<4 { #expect(try Self.get(c).status == 200) }
            let metrics = server.metrics.render(version: "t")
            #expect(metrics.contains(#"sentinel_rate_limit_requests_total{limiter="rl",result="admitted"} 1"#))
            #expect(metrics.contains(#"sentinel_rate_limit_requests_total{limiter="rl",result="limited"} 3"#))
            #expect(metrics.contains(#"sentinel_rate_limit_keys{limiter="rl"} 1"#))
        }
    }

    /// `on-limit "delay"`: the second request waits for its token (about 200 ms at 5 a second)
    /// instead of being refused; one beyond max-delay-ms is refused.
    @Test func delayHoldsTheRequestUntilItsTokenIsDue() async throws {
        try await Self.serve(#"filter "rl" { type "rate-limit"; max-rps 5; burst 1; on-limit "delay"; max-delay-ms 300 }"#,
                             routeFilters: #"filters "rl";"#) { port in
            let c = try RawClient(port: port)
            #expect(try Self.get(c).status == 200)
            let clock = ContinuousClock()
            let start = clock.now
            #expect(try Self.get(c).status == 200)
            let waited = clock.now - start
            #expect(waited >= .milliseconds(150), "\(waited)")
            // Two more at once on two connections: one waits ~200 ms (within 300), the other would
            // need ~400: refused at once.
            let d = try RawClient(port: port)
            c.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            d.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            let (a, b) = try [c.readResponse(), d.readResponse()].sorted { $0.status < $1.status }.pair()
            #expect(a.status == 200)
            #expect(b.status == 429)
        }
    }

    @Test func theGlobalLimiterStandsInFrontOfEveryRoute() async throws {
        try await Self.serve("", routeFilters: "", extra: "rate-limits { global { max-rps 1; burst 2 } }") { port in
            let c = try RawClient(port: port)
            #expect(try Self.get(c).status == 200)
            #expect(try Self.get(c, "/free").status == 200)
            #expect(try Self.get(c, "/free").status == 429)
            #expect(try Self.get(c).status == 429)
        }
    }

    /// Admitted responses carry X-RateLimit-* too (as in the original), those of the limiter
    /// with the fewest tokens left; Retry-After only on a rejection.
    @Test func admittedResponsesCarryTheTightestLimitsFields() async throws {
        try await Self.serve(#"filter "rl" { type "rate-limit"; max-rps 2; burst 3 }"#, routeFilters: #"filters "rl";"#,
                             extra: "rate-limits { global { max-rps 100; burst 50 } }") { port in
            let c = try RawClient(port: port)
            let r = try Self.get(c)
            #expect(r.status == 200)
            #expect(r.header("X-RateLimit-Limit") == "2")
            #expect(r.header("X-RateLimit-Remaining") == "2")
            #expect(Int(r.header("X-RateLimit-Reset") ?? "") ?? 0 > 1_700_000_000)
            #expect(r.header("Retry-After") == nil)
            #expect(try Self.get(c).header("X-RateLimit-Remaining") == "1")
            // The global limiter alone on the other route.
            #expect(try Self.get(c, "/free").header("X-RateLimit-Limit") == "100")
        }
    }

    /// `policies { rate-limit }` is a local limiter on its route, labelled `route:<id>`.
    @Test func aRoutePolicyRateLimitLimitsItsRoute() async throws {
        let text = """
            system { worker-threads 1 }
            listeners { listener "http" { address "127.0.0.1:0" } }
            routes {
                route "h" { matches { path "/health" }; policies { rate-limit { requests-per-second 1; burst 2; key "client-ip" } }; builtin-handler "health" }
                route "free" { matches { path "/free" }; builtin-handler "health" }
            }
            """
        try await withProxy(try ServerSnapshot.fromConfig(text)) { server, port in
            let c = try RawClient(port: port)
            #expect(try Self.get(c).status == 200)
            #expect(try Self.get(c).status == 200)
            let limited = try Self.get(c)
            #expect(limited.status == 429)
            #expect(limited.header("Retry-After") == "1")
            #expect(try Self.get(c, "/free").status == 200)
            #expect(server.metrics.render(version: "t").contains(#"sentinel_rate_limit_requests_total{limiter="route:h",result="limited"} 1"#))
        }
    }

    @Test func redisAndMemcachedBackendsAndRouteDefaultsAreRefused() throws {
        func refusal(_ text: String) -> String {
            switch ConfigLoader.load(text: text) {
            case .success: return ""
            case .failure(let e): return e.rendered()
            }
        }
        let base = """
            system { worker-threads 1 }
            listeners { listener "http" { address "127.0.0.1:0" } }
            routes { route "h" { matches { path "/health" }; builtin-handler "health" } }

            """
        #expect(refusal(base + #"filters { filter "r" { type "rate-limit"; backend "memcached" } }"#).contains("not supported yet"))
        #expect(refusal(base + #"rate-limits { default-rps 10 }"#).contains("not supported yet"))
        #expect(refusal(base + #"rate-limits { global { max-rps 10 } }"#) == "")
        #expect(refusal(base + #"filters { filter "r" { type "rate-limit"; max-rps 5 } }"#) == "")
        let policy = """
            listeners { listener "http" { address "127.0.0.1:0" } }
            routes { route "h" { matches { path "/health" }; policies { rate-limit { max-rps 5; key "nonsense" } }; builtin-handler "health" } }
            """
        #expect(refusal(policy).contains("unknown rate-limit key \"nonsense\""))
    }
}

extension Array {
    func pair() throws -> (Element, Element) {
        guard count == 2 else { throw RawClient.ClientError.malformed }
        return (self[0], self[1])
    }
}
