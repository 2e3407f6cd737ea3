import Testing

@testable import SentinelConfig

/// Keys that the original's published configurations carry but the original never read: still
/// refused, with a hint that says so and what to write instead.
@Suite struct StaleKeyTests {
    static let upstream = #"upstreams { upstream "b" { target "127.0.0.1:9" } }"#
    static func route(_ body: String) -> String {
        minimal(routes: #"route "r" { matches { path-prefix "/" }; upstream "b"; \#(body) }"#) + upstream
    }

    /// One configuration per table entry (keyed `parent|key`), each writing that stale key.
    static let cases: [String: String] = [
        "routes > route|circuit-breaker": route("circuit-breaker { failure-threshold 5 }"),
        "routes > route|websocket {}": route("websocket { enabled #true }"),
        "|websocket": minimal("websocket { enabled #true }"),
        "routes > route > policies|cache": route("policies { cache { enabled #true } }"),
        "observability > tracing|enabled": minimal(#"observability { tracing { enabled #true; backend "otlp" { endpoint "http://127.0.0.1:4317" } } }"#),
        "upstreams > upstream|server": minimal(#"upstreams { upstream "b" { target "127.0.0.1:9"; server "127.0.0.1:10" } }"#),
        "upstreams > upstream > targets|server": minimal(#"upstreams { upstream "b" { targets { target "127.0.0.1:9"; server "127.0.0.1:10" } } }"#),
        "routes > route|error-pages": route("error-pages { }"),
        "|error-pages": minimal("error-pages { }"),
        "upstreams > upstream > tls|verify": minimal(#"upstreams { upstream "b" { target "127.0.0.1:9"; tls { verify #true } } }"#),
        "filters > filter|redis-fallback-local": minimal(#"filters { filter "rl" { type "rate-limit"; max-rps 10; redis-fallback-local #true } }"#),
    ]

    @Test func everyEntryHasACase() {
        #expect(Set(StaleKeys.table.map { "\($0.parent)|\($0.key)" }) == Set(Self.cases.keys))
    }

    @Test(arguments: StaleKeys.table.map { "\($0.parent)|\($0.key)" })
    func staleKeyIsRefusedWithItsHint(_ id: String) throws {
        let entry = try #require(StaleKeys.table.first { "\($0.parent)|\($0.key)" == id })
        let text = try #require(Self.cases[id])
        let hinted = diagnostics(text).filter { $0.hint == StaleKeys.prefix + entry.instead }
        #expect(hinted.count == 1, "\(id): \(diagnostics(text).map(\.description))")
    }

    @Test func circuitBreakerOnARouteSaysWhereItBelongs() throws {
        let d = diagnostics(Self.route("circuit-breaker { failure-threshold 5 }"))
        let e = try #require(d.first)
        #expect(e.message == "unknown setting \"circuit-breaker\"")
        #expect(e.hint?.hasPrefix("the original ignores this key too; circuit breakers are set on the upstream") == true)
        #expect(e.path == "routes > route \"r\"")
    }

    @Test func staleKeysInsideNamespacesGetTheHintToo() {
        let text = minimal("""
            namespace "ns" {
                routes { route "r" { matches { path-prefix "/" }; upstream "b"; circuit-breaker { } } }
                upstreams { upstream "b" { target "127.0.0.1:9" } }
            }
            """)
        #expect(diagnostics(text).contains { $0.hint?.hasPrefix(StaleKeys.prefix + "circuit breakers") == true })
    }

    @Test func anOrdinaryTypoKeepsItsSuggestion() {
        let d = diagnostics(Self.route("websockt #true"))
        #expect(d.first?.hint == "did you mean \"websocket\"?")
    }
}
