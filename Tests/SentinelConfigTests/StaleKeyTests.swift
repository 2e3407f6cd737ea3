import Testing

@testable import SentinelConfig

/// Keys that the original's published configurations carry but the original never read: still
/// refused, with a hint that says so and what to write instead.
@Suite struct StaleKeyTests {
    static let upstream = #"upstreams { upstream "b" { target "127.0.0.1:9" } }"#
    static func route(_ body: String) -> String {
        minimal(routes: #"route "r" { matches { path-prefix "/" }; upstream "b"; \#(body) }"#) + upstream
    }

    static func inference(_ body: String) -> String {
        route(#"service-type "inference"; inference { provider "openai"; \#(body) }"#)
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
        "observability > logging|file": minimal(#"observability { logging { file "/var/log/sentinel/sentinel.log" } }"#),
        "observability > logging > access-log|fields": minimal(#"observability { logging { access-log { enabled #false; fields { method #true } } } }"#),
        "filters > filter|redis-fallback-local": minimal(#"filters { filter "rl" { type "rate-limit"; max-rps 10; redis-fallback-local #true } }"#),
        "filters > filter|memcached-fallback-local": minimal(#"filters { filter "rl" { type "rate-limit"; max-rps 10; backend "memcached"; memcached-fallback-local #true } }"#),
        "filters > filter|memcached-ttl-secs": minimal(#"filters { filter "rl" { type "rate-limit"; max-rps 10; backend "memcached"; memcached-ttl-secs 2 } }"#),
        "listeners > listener > tls|cipher-suites {}": minimal(#"listeners { listener "s" { address "127.0.0.1:8443"; protocol "https"; tls { cert-file "/c.pem"; key-file "/k.pem"; cipher-suites { - "TLS_AES_128_GCM_SHA256" } } } }"#),
        "routes > route|back-to": route(#"back-to upstream="b""#),
        "routes > route > policies|rewrite-path": route(#"policies { rewrite-path "/" }"#),
        "routes > route > inference > model-routing|model-header": inference(#"model-routing { model "a*" upstream="b"; model-header "x-model" }"#),
        "routes > route > fallback|upstream": route(#"fallback { fallback-upstream "b"; upstream "b" }"#),
        "routes > route > fallback|model-mapping": route(#"fallback { fallback-upstream "b"; model-mapping { "a" "b" } }"#),
        "observability > metrics|endpoint": minimal(#"observability { metrics { endpoint "/metrics" } }"#),
        "cache|backend {}": minimal(#"cache { enabled #true; backend "memory" { max-size-mb 512 } }"#),
        "waf > ruleset|exclusions": minimal(#"waf { ruleset { exclusions { exclusion { rule-ids "1"; scope "global" } } } }"#),
        "routes > route > inference|token-estimation": inference(#"token-estimation "chars""#),
        "routes > route > inference > rate-limit|key": inference(#"rate-limit { tokens-per-minute 10; key "header:X-Api-Key" }"#),
        "routes > route > inference > budget|key": inference(#"budget { limit 10; period "monthly"; key "header:X-Org" }"#),
        "routes > route > inference > model-routing|mappings": inference(#"model-routing { model "a*" upstream="b"; mappings { mapping "a*" { upstream "b" } } }"#),
        "routes > route > inference > cost-attribution|models": inference(#"cost-attribution { enabled #true; models { model "a" { input-cost-per-1k 1 } } }"#),
        "routes > route > inference > guardrails > pii-detection|detect-types": inference(#"guardrails { pii-detection { enabled #true; agent "a"; detect-types "ssn" } }"#),
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

/// Shapes of the original's older examples that no version of either parser reads: the hint
/// says how the setting is written.
@Suite struct OldShapeHintTests {
    @Test func aSettingWrittenAsAPropertyIsShownAsAChild() throws {
        let text = #"""
            system { worker-threads 1 }
            listeners { listener "h" address="127.0.0.1:8080" { protocol "http" } }
            routes { route "r" { builtin-handler "status" } }
            """#
        let d = diagnostics(text).first { $0.message.hasPrefix("unknown property \"address\"") }
        #expect(d?.hint == #"address is a setting inside the block: listener … { address "127.0.0.1:8080" }"#)
    }

    /// A block where a value is expected is one error (it was two: the block and the missing value).
    @Test func aBlockForAValueIsOneError() throws {
        let d = diagnostics(StaleKeyTests.route("websocket { enabled #true }"))
        #expect(d.filter { $0.path.hasSuffix("websocket") }.count == 1, "\(d.map(\.description))")
        let list = diagnostics(try #require(StaleKeyTests.cases["listeners > listener > tls|cipher-suites {}"]))
            .filter { $0.path.contains("tls") }
        #expect(list.count == 1 && list[0].message.contains("on one line, not as a block"), "\(list.map(\.description))")
        #expect(list.first?.path.hasSuffix("> cipher-suites") == true, "reported at the list itself: \(list.map(\.path))")
    }

    @Test func aBlockWithoutPropertiesSaysSoInPlainEnglish() throws {
        let text = StaleKeyTests.route(#"policies { timeout-secs 5 }; fallback { max-attempts 2; fallback-upstream "b" x=1 }"#)
        #expect(!diagnostics(text).contains { $0.hint?.contains("propertys") == true })
        #expect(Suggest.hint(for: "x", among: [], kind: "property") == "this block takes no properties")
    }
}
