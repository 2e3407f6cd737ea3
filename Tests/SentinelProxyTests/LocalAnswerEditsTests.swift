import SentinelConfig
import SentinelRuntime
import SentinelTestSupport
import Testing

@testable import SentinelProxy

/// A route's response edits (its `policies { response-headers }` and response-phase `headers`
/// filters) hold for Sentinel's own answers on the route as for an upstream's (nginx's
/// `add_header … always`): a builtin handler, a filter's refusal. Framing fields stay Sentinel's.
/// (Regression: these answers carried none of the edits.)
@Suite(.serialized) struct LocalAnswerEditsTests {
    @Test func responseEditsReachBuiltinAnswersAndRefusalsOnTheRoute() async throws {
        let text = """
            system { worker-threads 1 }
            listeners { listener "http" { address "127.0.0.1:0" } }
            filters {
                filter "sec" { type "headers"; phase "response"; set { X-Frame-Options "DENY" } }
                filter "rl" { type "rate-limit"; max-rps 1; burst 1 }
            }
            routes {
                route "h" {
                    matches { path "/health" }
                    filters "sec" "rl"
                    policies { response-headers { set { X-Policy "on" } } }
                    builtin-handler "health"
                }
            }
            """
        try await withProxy(try ServerSnapshot.fromConfig(text)) { _, port in
            let c = try RawClient(port: port)
            let ok = try c.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(ok.status == 200)
            #expect(ok.header("X-Frame-Options") == "DENY")
            #expect(ok.header("X-Policy") == "on")
            #expect(ok.header("Content-Length") != nil)
            let limited = try c.request("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(limited.status == 429)
            #expect(limited.header("X-Frame-Options") == "DENY")
            #expect(limited.header("Retry-After") != nil)
            // No route, no route's edits.
            let missing = try c.request("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(missing.status == 404)
            #expect(missing.header("X-Frame-Options") == nil)
        }
    }

    @Test func applyRenamesSetsAddsAndRemovesButNotFraming() {
        var headers: [(name: String, value: String)] = [("Content-Type", "text/plain"), ("X-Old", "1"), ("Server", "s"), ("Connection", "close")]
        let edits = HeaderEdits(
            rename: [(from: "X-Old", to: "X-New")], set: [("Content-Type", "application/json"), ("Content-Length", "0")],
            add: [("X-Add", "a")], remove: ["Server", "Connection"])
        edits.apply(to: &headers, tls: nil)
        #expect(headers.map { "\($0.name): \($0.value)" } == ["X-New: 1", "Connection: close", "Content-Type: application/json", "X-Add: a"])
    }
}
