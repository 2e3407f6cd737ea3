import SentinelConfig
import Testing

/// Qualified references across namespaces (`"ns:id"`, `"ns:svc:id"`) resolve exactly; they were
/// refused as undefined. Unqualified ones still walk service → namespace → exported → global.
@Suite struct QualifiedReferenceTests {
    static let platform = """
        namespace "platform" {
            upstreams { upstream "auth" { target "127.0.0.1:9001" } }
            filters { filter "limit" { type "rate-limit"; max-rps 10 } }
            agents { agent "guard" { unix-socket "/tmp/guard.sock"; command "/bin/true" } }
            service "users" {
                upstreams { upstream "db" { target "127.0.0.1:9002" } }
                filters { filter "hdr" { type "headers"; set { X-A "1" } } }
            }
        }
        """

    /// Only `not supported yet` (filters are not built) and no "not defined".
    static func onlyGated(_ text: String) -> [String] {
        diagnostics(text).map(\.message).filter { !$0.hasPrefix("not supported yet") }
    }

    @Test func upstreamQualifiedByNamespaceAndService() {
        let text = minimal(Self.platform + """

            namespace "web" {
                routes {
                    route "a" { matches { path-prefix "/a" }; upstream "platform:auth" }
                    route "b" { matches { path-prefix "/b" }; upstream "platform:users:db" }
                    route "c" {
                        matches { path-prefix "/c" }
                        upstream "platform:auth"
                        fallback { fallback-upstream "platform:users:db" { } }
                    }
                }
            }
            """, routes: #"route "g" { matches { path-prefix "/g" }; upstream "platform:users:db" }"#)
        #expect(Self.onlyGated(text).isEmpty, "\(Self.onlyGated(text))")
    }

    @Test func filterAndAgentQualified() {
        let text = minimal(Self.platform + """

            filters { filter "check" { type "agent"; agent "platform:guard" } }
            """, routes: #"route "g" { matches { path-prefix "/g" }; builtin-handler "health"; filters "platform:limit" "platform:users:hdr" "check" }"#)
        #expect(Self.onlyGated(text).isEmpty, "\(Self.onlyGated(text))")
    }

    @Test func qualifiedIsExactNotAWalk() {
        // "platform:db" does not find the service's db: a namespace-qualified id names the namespace's own.
        let d = Self.onlyGated(minimal(Self.platform, routes: #"route "g" { matches { path "/" }; upstream "platform:db" }"#))
        #expect(d == ["upstream \"db\" is not defined in namespace \"platform\""])
    }

    @Test func unknownNamespaceServiceOrFormAreExplained() {
        func only(_ ref: String) -> [ConfigDiagnostic] {
            diagnostics(minimal(Self.platform, routes: #"route "g" { matches { path "/" }; upstream "\#(ref)" }"#))
                .filter { !$0.message.hasPrefix("not supported yet") }
        }
        let ns = only("platfrom:auth")
        #expect(ns.map(\.message) == ["upstream \"platfrom:auth\": namespace \"platfrom\" is not defined"])
        #expect(ns.first?.hint == "did you mean \"platform\"?")
        #expect(only("platform:usres:db").map(\.message) == ["upstream \"platform:usres:db\": namespace \"platform\" has no service \"usres\""])
        #expect(only("platform:usres:db").first?.hint == "did you mean \"platform:users:db\"?")
        #expect(only("platform:auht").first?.hint == "did you mean \"platform:auth\"?")
        #expect(only("a:b:c:d").map(\.message) == ["upstream \"a:b:c:d\" is not a valid qualified reference"])
    }

    @Test func unqualifiedStillWalksTheScopes() {
        let text = minimal("""
            upstreams { upstream "shared" { target "127.0.0.1:9003" } }
            namespace "api" {
                upstreams { upstream "backend" { target "127.0.0.1:9004" } }
                exports { upstreams "backend" }
            }
            namespace "web" {
                routes {
                    route "x" { matches { path "/x" }; upstream "backend" }
                    route "y" { matches { path "/y" }; upstream "shared" }
                }
            }
            """)
        #expect(diagnostics(text).isEmpty)
    }

    @Test func colonsInIdsAreRefused() {
        let d = diagnostics(minimal(#"upstreams { upstream "a:b" { target "127.0.0.1:9" } }"#))
        #expect(d.map(\.message) == ["upstream id \"a:b\" contains \":\", which separates the parts of qualified references (\"namespace:id\", \"namespace:service:id\")"])
    }
}
