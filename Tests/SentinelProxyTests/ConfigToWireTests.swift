import SentinelConfig
import SentinelRuntime
import SentinelTestSupport
import Testing

@testable import SentinelProxy

/// `limits { … }` from configuration text to the wire: the loader, the snapshot builder and the
/// parser, as `sentinel` runs them. (Regression: `max-header-name-bytes` and
/// `max-header-value-bytes` were parsed and documented but never reached the parser.)
@Suite(.serialized) struct ConfigToWireTests {
    static func serve(_ limits: String, routes: String? = nil, _ body: (Int) throws -> Void) async throws {
        let text = """
            system { worker-threads 1 }
            listeners { listener "http" { address "127.0.0.1:0" } }
            routes { \(routes ?? #"route "h" { matches { path "/health" }; builtin-handler "health" }"#) }
            limits { \(limits) }
            """
        try await withProxy(try ServerSnapshot.fromConfig(text)) { _, port in try body(port) }
    }

    @Test func headerNameLimitFromConfigAnswers431() async throws {
        try await ConfigToWireTests.serve("max-header-name-bytes 32") { port in
            let ok = "X-" + String(repeating: "n", count: 30)  // 32 bytes
            let fits = try RawClient(port: port).request("GET /health HTTP/1.1\r\nHost: t\r\n\(ok): v\r\n\r\n").status
            let over = try RawClient(port: port).request("GET /health HTTP/1.1\r\nHost: t\r\n\(ok)n: v\r\n\r\n").status
            #expect(fits == 200)
            #expect(over == 431)
        }
    }

    @Test func headerValueLimitFromConfigAnswers431() async throws {
        try await ConfigToWireTests.serve("max-header-value-bytes 100") { port in
            let ok = String(repeating: "v", count: 100)
            let fits = try RawClient(port: port).request("GET /health HTTP/1.1\r\nHost: t\r\nX-A: \(ok)\r\n\r\n").status
            let over = try RawClient(port: port).request("GET /health HTTP/1.1\r\nHost: t\r\nX-A: \(ok)v\r\n\r\n").status
            #expect(fits == 200)
            #expect(over == 431)
        }
    }

    /// The original's catch-all: a `priority "low"` route without `matches` takes every request
    /// no other route takes (it was refused as having no matches block).
    @Test func routeWithoutMatchesCatchesTheRest() async throws {
        let routes = #"""
            route "h" { matches { path "/health" }; builtin-handler "health" }
            route "rest" { priority "low"; builtin-handler "status" }
            """#
        try await ConfigToWireTests.serve("", routes: routes) { port in
            let health = try RawClient(port: port).request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            let other = try RawClient(port: port).request("GET /no/such/path?x=1 HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(health.body.contains("healthy"))
            #expect(other.status == 200)
            #expect(other.body.contains("\"status\":\"ok\""))
        }
    }
}
