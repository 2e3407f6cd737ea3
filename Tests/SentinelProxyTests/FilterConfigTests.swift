import Foundation
import SentinelConfig
import SentinelRuntime
import SentinelTestSupport
import Synchronization
import Testing

@testable import SentinelProxy

/// Each filter type from configuration text to the wire: loader, snapshot builder, the chain,
/// a real upstream and a real client.
@Suite(.serialized) struct FilterConfigTests {
    /// Serves `filters` and `routes` (the upstream is `app`, at `upstreamPort`).
    static func serve(
        upstreamPort: Int, filters: String, routes: String, upstreamTimeouts: String = "", system: String = "",
        log: (@Sendable (String) -> Void)? = nil, metrics: MetricsRegistry = .init(), _ body: (Int) async throws -> Void
    ) async throws {
        let text = """
            system { worker-threads 1; \(system) }
            listeners { listener "http" { address "127.0.0.1:0" } }
            upstreams { upstream "app" { target "127.0.0.1:\(upstreamPort)"; \(upstreamTimeouts) } }
            filters { \(filters) }
            routes { \(routes) }
            """
        let snapshot = try ServerSnapshot.fromConfig(text)
        try await ProxyServer(eventLoopCount: 1, metrics: metrics, log: log).serving(snapshot, body)
    }

    @Test func headersFiltersEditEachPhase() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("ok", headers: [("Server", "secret/1.0"), ("X-Up", "1")]) }
        defer { Task { await upstream.shutdown() } }
        let filters = #"""
            filter "req" { type "headers"; set { X-Env "prod" }; remove "X-Debug"; rename { X-Old "X-New" } }
            filter "resp" { type "headers"; phase "response"; remove "Server"; add { X-Frame-Options "DENY" } }
            filter "both" { type "headers"; phase "both"; set { X-Both "yes" } }
            """#
        let routes = #"route "r" { matches { path-prefix "/" }; upstream "app"; filters "req" "resp" "both" }"#
        try await Self.serve(upstreamPort: upstream.port, filters: filters, routes: routes) { port in
            let r = try RawClient(port: port).request("GET /x HTTP/1.1\r\nHost: h\r\nX-Debug: 1\r\nX-Old: v\r\nX-Env: dev\r\n\r\n")
            #expect(r.status == 200)
            #expect(r.header("Server") == nil)
            #expect(r.header("X-Frame-Options") == "DENY")
            #expect(r.header("X-Both") == "yes")
            #expect(r.header("X-Up") == "1")
            let seen = try #require(upstream.requests.first)
            #expect(seen.header("x-env") == ["prod"])
            #expect(seen.header("x-debug").isEmpty)
            #expect(seen.header("x-new") == ["v"])
            #expect(seen.header("x-old").isEmpty)
            #expect(seen.header("x-both") == ["yes"])
        }
    }

    @Test func corsAnswersPreflightsAndMarksAllowedOriginsOnly() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("data", headers: [("Vary", "Accept-Encoding")]) }
        defer { Task { await upstream.shutdown() } }
        let filters = #"""
            filter "cors" {
                type "cors"
                allowed-origins "https://app.example"
                allowed-methods "GET" "PUT"
                allowed-headers "X-Token"
                allow-credentials #true
                max-age-secs 600
            }
            """#
        let routes = #"route "api" { matches { path-prefix "/api" }; upstream "app"; filters "cors" }"#
        let metrics = MetricsRegistry()
        try await Self.serve(upstreamPort: upstream.port, filters: filters, routes: routes, metrics: metrics) { port in
            let c = try RawClient(port: port)
            let pre = try c.request(
                "OPTIONS /api/x HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example\r\nAccess-Control-Request-Method: PUT\r\n"
                    + "Access-Control-Request-Headers: x-token\r\n\r\n")
            #expect(pre.status == 204)
            #expect(pre.header("Access-Control-Allow-Origin") == "https://app.example")
            #expect(pre.header("Access-Control-Allow-Credentials") == "true")
            #expect(pre.header("Access-Control-Allow-Methods") == "GET, PUT")
            #expect(pre.header("Access-Control-Max-Age") == "600")
            #expect(upstream.requests.isEmpty)
            let actual = try c.request("GET /api/x HTTP/1.1\r\nHost: h\r\nOrigin: https://app.example\r\n\r\n")
            #expect(actual.status == 200)
            #expect(actual.header("Access-Control-Allow-Origin") == "https://app.example")
            #expect(actual.headers.filter { $0.0.lowercased() == "vary" }.map(\.1).contains("Origin"))
            #expect(actual.headers.filter { $0.0.lowercased() == "vary" }.map(\.1).contains("Accept-Encoding"))
            // Another origin: no reflection, no credentials; its preflight is refused.
            let evil = try c.request("GET /api/x HTTP/1.1\r\nHost: h\r\nOrigin: https://evil.example\r\n\r\n")
            #expect(evil.status == 200)
            #expect(evil.header("Access-Control-Allow-Origin") == nil)
            #expect(evil.header("Access-Control-Allow-Credentials") == nil)
            let evilPre = try c.request(
                "OPTIONS /api/x HTTP/1.1\r\nHost: h\r\nOrigin: https://evil.example\r\nAccess-Control-Request-Method: GET\r\n\r\n")
            #expect(evilPre.status == 403)
            #expect(evilPre.header("Access-Control-Allow-Origin") == nil)
        }
        // Each answer is counted by filter, type and status class (a pass is not).
        let text = metrics.render(version: "t")
        #expect(text.contains(#"sentinel_filter_decisions_total{filter="cors",type="cors",action="answer_2xx"} 1"#))
        #expect(text.contains(#"sentinel_filter_decisions_total{filter="cors",type="cors",action="answer_4xx"} 1"#))
    }

    @Test func aRedirectRouteAnswersWithoutAnUpstream() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("never") }
        defer { Task { await upstream.shutdown() } }
        let filters = #"""
            filter "moved" { type "redirect"; status-code 301; scheme "https"; hostname "new.example"; replace-prefix-match "/v2" }
            filter "secure" { type "redirect"; scheme "https" }
            """#
        let routes = #"""
            route "old" { matches { path-prefix "/v1" }; filters "moved" }
            route "plain" { matches { path-prefix "/" }; priority "low"; upstream "app"; filters "secure" }
            """#
        try await Self.serve(upstreamPort: upstream.port, filters: filters, routes: routes) { port in
            let c = try RawClient(port: port)
            let r = try c.request("GET /v1/items?page=2 HTTP/1.1\r\nHost: old.example\r\n\r\n")
            #expect(r.status == 301)
            #expect(r.header("Location") == "https://new.example/v2/items?page=2")
            let s = try c.request("GET /cart HTTP/1.1\r\nHost: shop.example\r\n\r\n")
            #expect(s.status == 302)
            #expect(s.header("Location") == "https://shop.example/cart")
            // The client's Host cannot send it elsewhere.
            let hostile = try c.request("GET /cart HTTP/1.1\r\nHost: evil.example@good\r\n\r\n")
            #expect(hostile.status == 400)
            #expect(hostile.header("Location") == nil)
            #expect(upstream.requests.isEmpty)
        }
    }

    @Test func urlRewriteChangesPathAndHostUpstream() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("ok") }
        defer { Task { await upstream.shutdown() } }
        let filters = #"filter "rw" { type "url-rewrite"; hostname "internal.svc"; replace-prefix-match "/v2" }"#
        let routes = #"route "api" { matches { path-prefix "/api" }; upstream "app"; filters "rw" }"#
        try await Self.serve(upstreamPort: upstream.port, filters: filters, routes: routes) { port in
            let r = try RawClient(port: port).request("GET /api/users?id=7 HTTP/1.1\r\nHost: public.example\r\n\r\n")
            #expect(r.status == 200)
            let seen = try #require(upstream.requests.first)
            #expect(seen.requestLine == "GET /v2/users?id=7 HTTP/1.1")
            #expect(seen.header("host") == ["internal.svc"])
            #expect(seen.header("x-forwarded-host") == ["public.example"])
        }
    }

    @Test func aTimeoutFilterOverridesTheUpstreamsReadTimeout() async throws {
        let upstream = try await ScriptedUpstream { _ in .hang }
        defer { Task { await upstream.shutdown() } }
        let filters = #"filter "quick" { type "timeout"; upstream-timeout-secs "300ms" }"#
        let routes = #"route "api" { matches { path-prefix "/" }; upstream "app"; filters "quick" }"#
        try await Self.serve(upstreamPort: upstream.port, filters: filters, routes: routes, upstreamTimeouts: "timeouts { read 30 }") { port in
            let started = ContinuousClock.now
            let r = try RawClient(port: port).request("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(r.status == 504)
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test func aRoutePolicyTimeoutOverridesTheUpstreamsReadTimeout() async throws {
        let upstream = try await ScriptedUpstream { _ in .hang }
        defer { Task { await upstream.shutdown() } }
        let routes = #"route "api" { matches { path-prefix "/" }; upstream "app"; policies { timeout-secs "300ms" } }"#
        try await Self.serve(upstreamPort: upstream.port, filters: "", routes: routes, upstreamTimeouts: "timeouts { read 30 }") { port in
            let started = ContinuousClock.now
            let r = try RawClient(port: port).request("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(r.status == 504)
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test func aLogFilterLogsRequestsAndResponses() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("ok", status: 201) }
        defer { Task { await upstream.shutdown() } }
        let lines = Mutex<[String]>([])
        let filters = #"filter "audit" { type "log"; level "warn" }"#
        let routes = #"route "api" { matches { path-prefix "/" }; upstream "app"; filters "audit" }"#
        try await Self.serve(upstreamPort: upstream.port, filters: filters, routes: routes, log: { l in lines.withLock { $0.append(l) } }) { port in
            let r = try RawClient(port: port).request("GET /items?x=1 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer secret\r\n\r\n")
            #expect(r.status == 201)
        }
        let logged = lines.withLock { $0 }
        let request = try #require(logged.first { $0.contains("filter_log_request") })
        #expect(request.contains("\"path\":\"/items\""))
        #expect(request.contains("\"filter\":\"audit\""))
        #expect(!request.contains("secret"))
        let response = try #require(logged.first { $0.contains("filter_log_response") })
        #expect(response.contains("201"))
    }

    /// The client address filters and logs use: the socket's, unless the peer is a trusted proxy.
    @Test(arguments: [false, true])
    func anUntrustedClientCannotChooseItsAddress(trusted: Bool) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("ok") }
        defer { Task { await upstream.shutdown() } }
        let lines = Mutex<[String]>([])
        let filters = #"filter "audit" { type "log"; log-response #false }"#
        let routes = #"route "api" { matches { path-prefix "/" }; upstream "app"; filters "audit" }"#
        try await Self.serve(
            upstreamPort: upstream.port, filters: filters, routes: routes, system: trusted ? #"trusted-proxies "127.0.0.1""# : "",
            log: { l in lines.withLock { $0.append(l) } }
        ) { port in
            let c = try RawClient(port: port)
            #expect(try c.request("GET /a HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1, 203.0.113.5\r\n\r\n").status == 200)
            // Whatever the client says, X-Forwarded-For upstream ends with the real peer.
            let seen = try #require(upstream.requests.last)
            #expect(seen.header("x-forwarded-for").last?.hasSuffix("127.0.0.1") == true)
            #expect(seen.header("x-forwarded-for").joined().contains("1.1.1.1") == trusted)
        }
        let logged = try #require(lines.withLock { $0 }.first { $0.contains("filter_log_request") })
        #expect(logged.contains(trusted ? "\"client\":\"203.0.113.5\"" : "\"client\":\"127.0.0.1\""))
        #expect(!logged.contains("1.1.1.1"))
    }

    /// `policies { failure-mode }` reaches the route and is the default of its filters.
    @Test(arguments: ["open", "closed"])
    func theRoutePoliciesFailureModeIsTheFiltersDefault(mode: String) throws {
        let text = """
            system { worker-threads 1 }
            listeners { listener "http" { address "127.0.0.1:0" } }
            upstreams { upstream "app" { target "127.0.0.1:9" } }
            filters { filter "cors" { type "cors" } }
            routes { route "r" { matches { path-prefix "/" }; upstream "app"; filters "cors"; policies { failure-mode "\(mode)" } } }
            """
        let snapshot = try ServerSnapshot.fromConfig(text)
        let route = try #require(snapshot.routes(forListener: "http").routes.first)
        #expect(route.filters.request.map(\.failureMode) == [FilterFailureMode(rawValue: mode)!])
        guard case .proxy(let plan)? = route.action else { Issue.record("not proxied"); return }
        #expect(plan.route.failureMode == FilterFailureMode(rawValue: mode))
    }
}
