import SentinelConfig
import SentinelPolicy
import SentinelProxy
import SentinelRuntime
import SentinelTestSupport
import Testing

/// The data plane proxies a qualified reference to exactly the upstream it names.
@Suite struct QualifiedUpstreamTests {
    @Test func qualifiedReferencesPickTheNamedUpstream() throws {
        let text = """
            system { worker-threads 1 }
            listeners { listener "http" { address "127.0.0.1:0" } }
            routes {
                route "g" { matches { path "/g" }; upstream "api:users:backend" }
            }
            upstreams { upstream "backend" { target "127.0.0.1:9000" } }
            namespace "api" {
                upstreams { upstream "backend" { target "127.0.0.1:9001" } }
                service "users" {
                    upstreams { upstream "backend" { target "127.0.0.1:9002" } }
                    routes {
                        route "local" { matches { path "/l" }; upstream "backend" }
                        route "ns" { matches { path "/n" }; upstream "api:backend" }
                    }
                }
            }
            namespace "web" {
                routes {
                    route "w" {
                        matches { path "/w" }
                        upstream "api:backend"
                        fallback { fallback-upstream "api:users:backend" { } }
                    }
                }
            }
            """
        let s = try ServerSnapshot.fromConfig(text)
        var byRoute: [String: String] = [:]
        var fallbackOf: [String: [String]] = [:]
        for set in [s.router] + s.routeSets {
            for spec in set.routes {
                guard case .proxy(let p) = s.actions[spec.handler] else { continue }
                byRoute[spec.id] = s.upstreams[p.upstream].id
                if let f = p.fallback { fallbackOf[spec.id] = f.upstreams.map { s.upstreams[$0].id } }
            }
        }
        #expect(byRoute["g"] == "api/users/backend")
        #expect(byRoute["api/users/local"] == "api/users/backend")
        #expect(byRoute["api/users/ns"] == "api/backend")
        #expect(byRoute["web/w"] == "api/backend")
        #expect(fallbackOf["web/w"] == ["api/users/backend"])
    }
}
