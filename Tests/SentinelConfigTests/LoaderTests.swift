import Foundation
import SentinelConfig
import Testing

@Suite struct LoaderTests {
    @Test func minimalConfigIsValid() throws {
        let c = try #require(valid(minimal()))
        #expect(c.listeners.map(\.id) == ["http"])
        #expect(c.routes.first?.builtinHandler == .health)
        #expect(c.system.workerThreads == 1)
        #expect(c.limits.maxHeaderCount == 100)
    }

    @Test func unknownKeyIsAnErrorWithLocationAndSuggestion() {
        let d = diagnostics(minimal(routes: #"""
            route "api" {
                matches { path-prefx "/api" }
                builtin-handler "health"
            }
            """#))
        #expect(d.count == 1)
        #expect(d.first?.location.line == 5)
        #expect(d.first?.location.column == 15)
        #expect(d.first?.message == "unknown condition \"path-prefx\"")
        #expect(d.first?.hint == "did you mean \"path-prefix\"?")
        #expect(d.first?.path == "routes > route \"api\" > matches")
    }

    @Test func everyDiagnosticIsReportedAtOnce() {
        let d = diagnostics("""
            system { worker-threads -1; max-conections 5 }
            listeners { listener "a" { address "nope" } }
            routes { route "r" { matches { path "/" }; upstream "missing" } }
            bogus { }
            """)
        let lines = d.map(\.location.line).sorted()
        #expect(lines == [1, 1, 2, 3, 4])
    }

    @Test func danglingReferencesAreReportedWithSuggestions() {
        let d = diagnostics(minimal("""
            upstreams { upstream "backend" { target "127.0.0.1:9000" } }
            """, routes: #"route "r" { matches { path-prefix "/" }; upstream "backand" }"#))
        let dangling = d.filter { $0.message.contains("is not defined") }
        #expect(dangling.count == 1)
        #expect(dangling.first?.hint == "did you mean \"backend\"?")
        #expect(dangling.first?.location.line == 4)
    }

    @Test func duplicateIdsAreErrors() {
        let d = diagnostics(minimal(routes: """
            route "a" { matches { path "/a" }; builtin-handler "health" }
            route "a" { matches { path "/b" }; builtin-handler "status" }
            """))
        #expect(d.contains { $0.message.hasPrefix("duplicate route id \"a\"") && $0.location.line == 5 })
    }

    @Test func contradictionsAreErrors() {
        let d = diagnostics(minimal(routes: #"""
            route "a" { matches { path "/a" }; builtin-handler "health"; static-files { root "/tmp" } }
            """#))
        #expect(d.contains { $0.message.contains("has both") })
    }

    @Test func outOfRangeAndWrongTypes() {
        let d = diagnostics("""
            system { worker-threads "4"; graceful-shutdown-timeout-secs #true }
            listeners { listener "http" { address "127.0.0.1:99999" } }
            routes { route "r" { matches { path "/" }; builtin-handler "health" } }
            """)
        #expect(d.count == 3)
        #expect(d[0].hint == "write the number without quotes: 4")
    }

    @Test func bareBooleansGetAKDL2Hint() {
        let d = diagnostics(minimal(routes: #"route "r" { matches { path "/" }; builtin-handler "health"; websocket true }"#))
        #expect(d.first.map { $0.message.contains("syntax error") || $0.hint?.contains("#true") == true } == true)
    }

    @Test func missingSystemAndListenersAreReported() {
        let d = diagnostics(#"routes { route "r" { matches { path "/" }; builtin-handler "health" } }"#)
        #expect(d.contains { $0.message == "the configuration has no system block" })
        #expect(d.contains { $0.message == "the configuration has no listeners" })
    }

    @Test func aliasesOfTheOriginalParserAreAccepted() throws {
        let c = try #require(valid(minimal("""
            limits { max-body-size 1024; max-header-size 4096 }
            """)))
        #expect(c.limits.maxBodySizeBytes == 1024)
        #expect(c.limits.maxHeaderSizeBytes == 4096)
    }

    @Test func conditionsOfOneKindAreCollected() throws {
        let c = try #require(valid(minimal(routes: """
            route "r" { matches { path "/a"; path "/b"; method "GET" "post" }; builtin-handler "health" }
            """)))
        #expect(c.routes[0].match.paths == ["/a", "/b"])
        #expect(c.routes[0].match.methods == ["GET", "POST"])
    }

    @Test func priorityNamesAndNumbers() throws {
        let c = try #require(valid(minimal(routes: """
            route "a" { priority "critical"; matches { path "/a" }; builtin-handler "health" }
            route "b" { priority 7; matches { path "/b" }; builtin-handler "health" }
            route "c" { matches { path "/c" }; builtin-handler "health" }
            """)))
        #expect(c.routes.map(\.priority) == [1000, 7, 50])
    }

    @Test func unsupportedFeaturesAreNamed() {
        let d = diagnostics(minimal("""
            upstreams { upstream "u" { target "127.0.0.1:9000"; load-balancing "maglev"; health-check { type "inference" } } }
            """, routes: #"route "r" { matches { path "/" }; upstream "u" }"#))
        #expect(d.count == 1)
        #expect(d.first?.message == "not supported yet: health-check type \"inference\"")
    }

    /// gRPC checks run over h2c, or over TLS (ALPN h2) for an upstream with `tls`: accepted with
    /// or without options.
    @Test func grpcHealthChecksAreAcceptedOverCleartext() throws {
        let routes = #"route "r" { matches { path "/" }; upstream "u" }"#
        #expect(diagnostics(minimal(#"upstreams { upstream "u" { target "127.0.0.1:9000"; health-check { type "grpc" } } }"#, routes: routes)).isEmpty)
        let text = minimal(
            #"upstreams { upstream "u" { target "127.0.0.1:9000"; health-check { type "grpc" { service "shop.Cart"; host "cart.internal" }; timeout-secs 2 } } }"#,
            routes: routes)
        #expect(diagnostics(text).isEmpty)
        let config = try ConfigLoader.load(text: text, file: "t.kdl").get().config
        #expect(config.upstreams[0].healthCheck?.kind == .grpc(service: "shop.Cart", host: "cart.internal"))
        let withTLS = diagnostics(minimal(
            #"upstreams { upstream "u" { target "127.0.0.1:9000"; health-check { type "grpc" }; tls { sni "u.internal" } } }"#, routes: routes))
        #expect(withTLS.isEmpty, "\(withTLS.map(\.message))")
        let unknownKey = diagnostics(minimal(
            #"upstreams { upstream "u" { target "127.0.0.1:9000"; health-check { type "grpc" { path "/x" } } } }"#, routes: routes))
        #expect(unknownKey.count == 1)
    }

    /// Agents on a Unix socket are called by agent filters (supervised by sentinel-stack or not);
    /// the gRPC and HTTP transports are refused.
    @Test func unixSocketAgentsAreAcceptedOtherTransportsAreNot() {
        let supervised = minimal(#"agents { agent "a" { unix-socket "/tmp/a.sock"; command "/bin/true" } }"#)
        #expect(diagnostics(supervised).isEmpty)
        if case .success(let loaded) = ConfigLoader.load(text: supervised) {
            #expect(loaded.warnings.contains { $0.message.contains("supervised by sentinel-stack only") })
        }
        #expect(diagnostics(minimal(#"agents { agent "a" { unix-socket "/tmp/a.sock" } }"#)).isEmpty)
        let grpc = diagnostics(minimal(#"agents { agent "a" { grpc "http://127.0.0.1:50051" } }"#))
        #expect(grpc.map(\.message) == ["not supported yet: agent transport \"grpc\" (agent \"a\"; use unix-socket)"])
    }

    /// sentinel-stack drops workers and agents to user/group; single-process sentinel cannot.
    @Test func userAndGroupAreForSentinelStackOnly() {
        let text = minimal().replacingOccurrences(of: "system { worker-threads 1 }", with: #"system { worker-threads 1; user "nobody"; group "nogroup" }"#)
        guard case .failure(let e) = ConfigLoader.load(text: text) else {
            Issue.record("single-process sentinel must reject user/group")
            return
        }
        #expect(e.errors.map(\.message) == ["not supported yet: user/group privilege drop in single-process mode (sentinel-stack does it)"])
        #expect((try? ConfigLoader.load(text: text, host: .stack).get()) != nil)
        // And the supervised-agent warning is for single-process sentinel only.
        let agent = minimal(#"agents { agent "a" { unix-socket "/tmp/a.sock"; command "/bin/true" } }"#)
        #expect((try? ConfigLoader.load(text: agent, host: .stack).get())?.warnings.isEmpty == true)
    }

    @Test func schemaVersionIsChecked() {
        #expect(diagnostics("schema-version \"2.0\"\n" + minimal()).first?.message.contains("not supported") == true)
        #expect(diagnostics("schema-version \"1.0\"\n" + minimal()).isEmpty)
    }

    @Test func includeExpandsGlobsSortedAndMergesBlocks() throws {
        let dir = TempDir()
        dir.write("conf.d/20-b.kdl", #"routes { route "b" { matches { path "/b" }; builtin-handler "status" } }"#)
        dir.write("conf.d/10-a.kdl", #"routes { route "a" { matches { path "/a" }; builtin-handler "health" } }"#)
        let main = dir.write("main.kdl", """
            system { }
            listeners { listener "http" { address "127.0.0.1:0" } }
            include "conf.d/*.kdl"
            """)
        let loaded = try ConfigLoader.load(file: main).get()
        #expect(loaded.config.routes.map(\.id) == ["a", "b"])
        #expect(loaded.config.files.count == 3)
    }

    @Test func duplicateIdsAcrossFilesNameBothFiles() {
        let dir = TempDir()
        dir.write("x.kdl", #"routes { route "a" { matches { path "/b" }; builtin-handler "status" } }"#)
        let main = dir.write("main.kdl", """
            system { }
            listeners { listener "http" { address "127.0.0.1:0" } }
            routes { route "a" { matches { path "/a" }; builtin-handler "health" } }
            include "x.kdl"
            """)
        guard case .failure(let e) = ConfigLoader.load(file: main) else { Issue.record("expected failure"); return }
        #expect(e.errors.count == 1)
        #expect(e.errors[0].location.file.hasSuffix("x.kdl"))
        #expect(e.errors[0].message.contains("main.kdl:3"))
    }

    @Test func includeCyclesAreErrors() {
        let dir = TempDir()
        dir.write("a.kdl", #"include "b.kdl""#)
        dir.write("b.kdl", #"include "a.kdl""#)
        let main = dir.write("main.kdl", minimal("include \"a.kdl\""))
        guard case .failure(let e) = ConfigLoader.load(file: main) else { Issue.record("expected failure"); return }
        #expect(e.errors.contains { $0.message.contains("include cycle") })
    }

    @Test func includeInTextIsAnError() {
        #expect(diagnostics(minimal("include \"x.kdl\"")).first?.message == "include is only allowed in configuration files")
    }

    @Test func missingFileIsReported() {
        guard case .failure(let e) = ConfigLoader.load(file: "/nonexistent/sentinel.kdl") else { Issue.record("expected failure"); return }
        #expect(e.errors.first?.message.contains("cannot read /nonexistent/sentinel.kdl") == true)
    }

    @Test func listenerAddressOverlapIsAnError() {
        let d = diagnostics("""
            system { }
            listeners {
                listener "a" { address "0.0.0.0:8080" }
                listener "b" { address "127.0.0.1:8080" }
            }
            routes { route "r" { matches { path "/" }; builtin-handler "health" } }
            """)
        #expect(d.count == 1)
        #expect(d.first?.location.line == 4)
    }

    @Test func syntaxErrorsAreLocated() {
        let d = diagnostics("system {\n  worker-threads 1\n")
        #expect(d.count == 1)
        #expect(d.first?.message.hasPrefix("syntax error") == true)
    }
}

/// Settings found parsed-but-ignored by SchemaReachTests are refused, not silently accepted.
@Suite struct FallOffGateTests {
    @Test func headerNameLimitStaysWithinTheParsersRange() {
        // The parser keeps name lengths in 16 bits: 65536 was accepted and stopped the process.
        let d = diagnostics(minimal("limits { max-header-name-bytes 65536 }"))
        #expect(d.contains { $0.message.contains("outside the allowed range 16...65535") })
        #expect(diagnostics(minimal("limits { max-header-size-bytes 65535; max-header-name-bytes 65535 }")).isEmpty)
    }

    @Test func websocketInspectionIsRefused() {
        let d = diagnostics(minimal(routes: #"route "ws" { matches { path "/ws" }; upstream "b"; websocket #true; websocket-inspection #true }"#)
            + #"upstreams { upstream "b" { target "127.0.0.1:9" } }"#)
        #expect(d.map(\.message) == ["not supported yet: websocket-inspection (frames to agents)"])
    }

    /// Call settings are honoured; body events (and the body settings only they use) are refused.
    @Test func agentCallSettingsAreHonouredBodyEventsAreRefused() {
        let timed = minimal(#"agents { agent "a" { unix-socket "/tmp/a.sock"; command "/bin/true"; timeout-ms 50; failure-mode "closed"; max-concurrent-calls 4 } }"#)
        #expect(diagnostics(timed).isEmpty)
        let body = diagnostics(minimal(#"agents { agent "a" { unix-socket "/tmp/a.sock"; events "request_headers" "request_body"; request-body-mode "stream" } }"#))
        #expect(body.map(\.message) == [
            "not supported yet: agent events \"request_body\" (agent \"a\"; request_headers is supported)",
            "not supported yet: agent body settings request-body-mode (agent \"a\"; body events)",
        ])
    }

    @Test func fallbackSkipIfUnhealthyIsRefused() {
        let text = minimal(routes: #"route "r" { matches { path "/" }; upstream "a"; fallback { fallback-upstream "b" { skip-if-unhealthy #true } } }"#)
            + #"upstreams { upstream "a" { target "127.0.0.1:9" }; upstream "b" { target "127.0.0.1:10" } }"#
        #expect(diagnostics(text).map(\.message) == ["not supported yet: fallback-upstream skip-if-unhealthy"])
    }
}

/// A route without `matches` is the original's catch-all (item 20 of issue 10).
@Suite struct CatchAllRouteConfigTests {
    @Test func routeWithoutMatchesIsACatchAll() throws {
        let config = try #require(valid(minimal(routes: #"""
            route "h" { matches { path "/health" }; builtin-handler "health" }
            route "rest" { priority "low"; builtin-handler "not-found" }
            """#)))
        let rest = try #require(config.route("rest"))
        #expect(rest.catchAll && rest.match.isEmpty && rest.priority == 10)
        #expect(config.route("h")?.catchAll == false)
    }

    @Test func anEmptyMatchesBlockIsStillAnError() {
        let d = diagnostics(minimal(routes: #"route "e" { matches { }; builtin-handler "health" }"#))
        #expect(d.map(\.message) == ["route \"e\" has an empty matches block"])
        #expect(d.first?.hint?.contains("leave out matches") == true)
    }
}

/// A target setting written both as a property and as a child (or in metadata) was resolved
/// silently in favour of one: the other was never read (`weight=#true` passed unchecked).
@Suite struct TargetSpellingConflictTests {
    static func targets(_ t: String) -> [String] {
        diagnostics(minimal(#"upstreams { upstream "u" { targets { \#(t) } } }"#)).map(\.message)
    }

    @Test func weightMaxRequestsAndZoneGivenTwiceAreErrors() {
        #expect(Self.targets(#"target weight=#true { address "127.0.0.1:9"; weight 2 }"#) == ["weight given both as weight= and as a weight child"])
        #expect(Self.targets(#"target max-requests=5 { address "127.0.0.1:9"; max-requests 6 }"#).contains("max-requests given both as max-requests= and as a max-requests child"))
        #expect(Self.targets(#"target zone="a" { address "127.0.0.1:9"; metadata { zone "b" } }"#) == ["zone given both as zone= (line 6) and in metadata"])
        #expect(Self.targets(#"target weight=3 zone="a" { address "127.0.0.1:9"; metadata { rack "r1" } }"#).isEmpty)
    }
}

extension CatchAllRouteConfigTests {
    @Test func aCatchAllAboveOtherRoutesIsAWarning() throws {
        let text = minimal(routes: #"""
            route "rest" { priority "high"; builtin-handler "not-found" }
            route "h" { matches { path "/health" }; builtin-handler "health" }
            """#)
        guard case .success(let loaded) = ConfigLoader.load(text: text) else { Issue.record("must load"); return }
        #expect(loaded.warnings.map(\.message) == ["route \"rest\" has no matches and takes every request, so \"h\" (lower priority) never match"])
        let fine = minimal(routes: #"""
            route "rest" { priority "low"; builtin-handler "not-found" }
            route "h" { matches { path "/health" }; builtin-handler "health" }
            """#)
        #expect(try ConfigLoader.load(text: fine).get().warnings.isEmpty)
    }
}
