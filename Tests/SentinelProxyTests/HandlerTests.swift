import Testing

@testable import SentinelProxy
import SentinelFormat

@Suite struct BuiltinHandlerTests {
    let context = BuiltinHandlers.Context(
        traceID: "trace-1", version: "0.1.0", instanceID: "i-1", configJSON: "{\"a\":1}",
        unixSeconds: 1_700_000_000.25, uptimeSeconds: 3_725, metricsText: { "sentinel_up 1\n" })

    @Test func status() {
        let r = BuiltinHandlers.respond(.status, to: .init(method: "GET", path: "/status"), context: context)
        #expect(r.status == 200)
        #expect(
            r.bodyString
                == "{\"status\":\"ok\",\"version\":\"0.1.0\",\"uptime\":\"1h 2m 5s\",\"uptime_secs\":3725,\"instance_id\":\"i-1\",\"timestamp\":\"2023-11-14T22:13:20.250Z\"}"
        )
        #expect(r.header("content-type") == "application/json")
        #expect(r.header("cache-control") == "no-cache, no-store, must-revalidate")
        #expect(r.header("x-request-id") == "trace-1")
        // One name for the request id: the original's builtins also sent X-Correlation-Id.
        #expect(r.header("x-correlation-id") == nil)
    }

    @Test func healthConfigNotFound() {
        let health = BuiltinHandlers.respond(.health, to: .init(method: "HEAD", path: "/health"), context: context)
        #expect(health.bodyString == "{\"status\":\"healthy\",\"timestamp\":\"2023-11-14T22:13:20.250Z\"}")
        #expect(BuiltinHandlers.respond(.config, to: .init(method: "GET", path: "/"), context: context).bodyString == "{\"a\":1}")
        let missing = BuiltinHandlers.respond(.notFound, to: .init(method: "GET", path: "/"), context: context)
        #expect(missing.status == 404)
        #expect(missing.bodyString == "{\"error\":\"404 Not Found\",\"trace_id\":\"trace-1\"}")
    }

    /// Regression: the welcome page filtered the version to letters and digits and printed the
    /// real version string "0.1.0 (release 26.11_1)" as "0.1.0release26.11_1".
    @Test func welcomePageShowsTheVersionAsIs() {
        let page = BuiltinHandlers.welcomePage(version: "0.1.0 (release 26.11_1)")
        #expect(page.contains("<code>0.1.0 (release 26.11_1)</code>"))
        let hostile = BuiltinHandlers.welcomePage(version: "1 <script>\"'&")
        #expect(hostile.contains("<code>1 &lt;script&gt;&quot;&#39;&amp;</code>"))
        #expect(!hostile.contains("<script>"))
    }

    @Test func welcomeAndMetrics() {
        let welcome = BuiltinHandlers.respond(.welcome, to: .init(method: "GET", path: "/"), context: context)
        #expect(welcome.header("content-type") == "text/html; charset=utf-8")
        #expect(welcome.bodyString.contains("Sentinel is running"))
        #expect(welcome.bodyString.contains("href=\"/metrics\""))
        let metrics = BuiltinHandlers.respond(.metrics, to: .init(method: "GET", path: "/metrics"), context: context)
        #expect(metrics.header("content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(metrics.bodyString == "sentinel_up 1\n")
    }

    @Test func otherMethodsGet405WithAllow() {
        let r = BuiltinHandlers.respond(.health, to: .init(method: "POST", path: "/health"), context: context)
        #expect(r.status == 405)
        #expect(r.header("allow") == "GET, HEAD")
        #expect(r.bodyString == "{\"error\":\"405 Method Not Allowed\",\"trace_id\":\"trace-1\"}")
    }

    @Test func jsonEscaping() {
        #expect(JSONString.quoted("a\"b\\c\n\u{1}") == "\"a\\\"b\\\\c\\n\\u0001\"")
    }

    @Test func rfc3339() {
        #expect(RFC3339.format(unixSeconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(RFC3339.format(unixSeconds: 951_782_400) == "2000-02-29T00:00:00.000Z")
    }

    @Test func accessLogTimes() {
        #expect(AccessLogFormatter.rfc3339(1_796_215_845.25) == "2026-12-02T12:50:45.250Z")
        #expect(AccessLogFormatter.clfTime(1_796_215_845.25) == "02/Dec/2026:12:50:45 +0000")
        #expect(AccessLogFormatter.clfTime(951_782_400) == "29/Feb/2000:00:00:00 +0000")
    }
}

@Suite struct TraceIDTests {
    @Test func tinyflake() {
        var rng = SystemRandomNumberGenerator()
        let id = TraceID.tinyflake(unixSeconds: 1_700_000_000, using: &rng)
        #expect(id.count == 11)
        #expect(id.utf8.allSatisfy { TraceID.base58.contains($0) })
        let other = TraceID.tinyflake(unixSeconds: 1_700_000_000, using: &rng)
        #expect(id.prefix(3) == other.prefix(3))
    }

    @Test func uuid() {
        var rng = SystemRandomNumberGenerator()
        let id = TraceID.uuidV4(using: &rng)
        let parts = id.split(separator: "-")
        #expect(parts.map(\.count) == [8, 4, 4, 4, 12])
        #expect(parts[2].first == "4")
        #expect("89ab".contains(parts[3].first!))
    }

    @Test func incomingIDsAreReusedOnlyWhenSane() {
        var rng = SystemRandomNumberGenerator()
        let reused = TraceID.resolve(
            headerValue: { $0 == "x-request-id" ? "abc-123" : nil }, format: .tinyflake, unixSeconds: 0, using: &rng)
        #expect(reused == "abc-123")
        let injected = TraceID.resolve(
            headerValue: { $0 == "x-trace-id" ? "bad\r\nSet-Cookie: x" : nil }, format: .uuid, unixSeconds: 0, using: &rng)
        #expect(injected.count == 36)
        #expect(!TraceID.isAcceptable(String(repeating: "a", count: 129)))
        #expect(TraceID.isAcceptable(String(repeating: "a", count: 128)))
    }
}

@Suite struct MetricsTests {
    @Test func renderCountersHistogramsAndGauges() {
        let m = MetricsRegistry()
        m.recordRequest(route: "api", method: "get", status: 200, durationSeconds: 0.003)
        m.recordRequest(route: "api", method: "GET", status: 200, durationSeconds: 0.2)
        m.recordRequest(route: nil, method: "BREW", status: 404, durationSeconds: 20)
        m.connectionOpened()
        m.requestStarted()
        let text = m.render(version: "1.\"2")
        #expect(text.contains("sentinel_up 1\n"))
        #expect(text.contains("sentinel_build_info{version=\"1.\\\"2\"} 1\n"))
        #expect(text.contains("sentinel_requests_total{route=\"api\",method=\"GET\",status=\"200\"} 2\n"))
        #expect(text.contains("sentinel_requests_total{route=\"_none\",method=\"OTHER\",status=\"404\"} 1\n"))
        #expect(text.contains("sentinel_request_duration_seconds_bucket{route=\"api\",method=\"GET\",le=\"0.001\"} 0\n"))
        #expect(text.contains("sentinel_request_duration_seconds_bucket{route=\"api\",method=\"GET\",le=\"0.005\"} 1\n"))
        #expect(text.contains("sentinel_request_duration_seconds_bucket{route=\"api\",method=\"GET\",le=\"0.25\"} 2\n"))
        #expect(text.contains("sentinel_request_duration_seconds_bucket{route=\"_none\",method=\"OTHER\",le=\"10\"} 0\n"))
        #expect(text.contains("sentinel_request_duration_seconds_bucket{route=\"_none\",method=\"OTHER\",le=\"+Inf\"} 1\n"))
        #expect(text.contains("sentinel_request_duration_seconds_count{route=\"api\",method=\"GET\"} 2\n"))
        #expect(text.contains("sentinel_active_requests 1\n"))
        #expect(text.contains("sentinel_open_connections 1\n"))
    }

    @Test func seriesAreBounded() {
        let m = MetricsRegistry(maxSeries: 2)
        for i in 0..<10 { m.recordRequest(route: "r\(i)", method: "GET", status: 200, durationSeconds: 0) }
        // Existing series keep counting; a new label set of a known route folds too.
        m.recordRequest(route: "r0", method: "GET", status: 200, durationSeconds: 0)
        m.recordRequest(route: "r0", method: "GET", status: 500, durationSeconds: 0)
        m.recordRequest(route: "r0", method: "POST", status: 200, durationSeconds: 0)
        let text = m.render(version: "v")
        #expect(text.contains("route=\"_overflow\",method=\"GET\",status=\"200\"} 8"))
        #expect(text.contains("route=\"r0\",method=\"GET\",status=\"200\"} 2"))
        #expect(text.contains("route=\"_overflow\",method=\"GET\",status=\"500\"} 1"))
        #expect(text.contains("route=\"_overflow\",method=\"POST\",status=\"200\"} 1"))
        #expect(text.contains("sentinel_request_duration_seconds_count{route=\"r0\",method=\"GET\"} 3"))
        #expect(text.contains("sentinel_request_duration_seconds_count{route=\"_overflow\",method=\"POST\"} 1"))
        #expect(!text.contains("route=\"r2\""))
    }
}
