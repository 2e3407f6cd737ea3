import SentinelAgentProtocol
import SentinelConfig
import SentinelRuntime
import SentinelTestSupport
import Testing

@testable import SentinelProxy

/// `agent` filters end to end: configuration text → snapshot → a proxy calling a scriptable
/// agent over a real Unix socket, with a recording upstream.
@Suite(.serialized) struct AgentFilterTests {
    /// Routes: /open (agent filter fail-open), /closed (fail-closed), /both (two agents), /plain (none).
    static func config(upstream: Int, agent: String, second: String? = nil, agentExtra: String = "", filterExtra: String = "") -> String {
        """
        system { worker-threads 1 }
        listeners { listener "http" { address "127.0.0.1:0" } }
        upstreams { upstream "up" { target "127.0.0.1:\(upstream)" } }
        agents {
            agent "a" type="waf" { unix-socket "\(agent)"; timeout-ms 300; \(agentExtra) }
            \(second.map { #"agent "b" { unix-socket "\#($0)"; timeout-ms 300 }"# } ?? "")
        }
        filters {
            filter "fo" { type "agent"; agent "a"; failure-mode "open"; \(filterExtra) }
            filter "fc" { type "agent"; agent "a"; failure-mode "closed"; \(filterExtra) }
            \(second != nil ? #"filter "fb" { type "agent"; agent "b"; failure-mode "closed" }"# : "")
        }
        routes {
            route "open" { matches { path-prefix "/open" }; upstream "up"; filters "fo" }
            route "closed" { matches { path-prefix "/closed" }; upstream "up"; filters "fc" }
            \(second != nil ? #"route "both" { matches { path-prefix "/both" }; upstream "up"; filters "fc" "fb" }"# : "")
            route "plain" { matches { path-prefix "/plain" }; upstream "up" }
        }
        """
    }

    static func serve(_ agent: FakeAgent, second: FakeAgent? = nil, agentExtra: String = "", filterExtra: String = "",
                      _ body: (Int, ScriptedUpstream, ProxyServer) async throws -> Void) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("proxied") }
        let snapshot = try ServerSnapshot.fromConfig(config(upstream: upstream.port, agent: agent.path, second: second?.path,
                                                            agentExtra: agentExtra, filterExtra: filterExtra))
        do {
            try await withProxy(snapshot) { server, port in
                try await server.agentPool("a")!.whenReady(connections: 4).get()
                if second != nil { try await server.agentPool("b")!.whenReady(connections: 4).get() }
                try await body(port, upstream, server)
            }
        } catch {
            await upstream.shutdown(); agent.stop(); second?.stop()
            throw error
        }
        await upstream.shutdown()
        agent.stop()
        second?.stop()
    }

    static func get(_ port: Int, _ path: String, headers: String = "") throws -> RawClient.Response {
        try RawClient(port: port).request("GET \(path) HTTP/1.1\r\nHost: t\r\n\(headers)\r\n")
    }

    @Test func allowAppliesRequestAndResponseHeaderOps() async throws {
        let agent = try FakeAgent { _ in
            [.respond(AgentResponse(requestHeaders: [.set(name: "X-User", value: "42"), .add(name: "X-Tag", value: "a"), .remove(name: "Cookie")],
                                    responseHeaders: [.set(name: "X-Checked", value: "yes")]))]
        }
        try await Self.serve(agent) { port, upstream, _ in
            let r = try Self.get(port, "/open/x?y=1", headers: "Cookie: s=1\r\nX-Request-Id: trace-abc\r\n")
            #expect(r.status == 200 && r.body == "proxied")
            #expect(r.header("X-Checked") == "yes")
            let seen = try #require(upstream.requests.last)
            #expect(seen.header("X-User") == ["42"] && seen.header("X-Tag") == ["a"] && seen.header("Cookie").isEmpty)
            // The event: uri with query, lower-case names, the trace id as correlation id (top and metadata).
            let e = try #require(agent.events.first { $0.type == .requestHeaders }?.json)
            #expect(e["uri"] == .string("/open/x?y=1") && e["method"] == .string("GET"))
            #expect(e["correlation_id"] == .string("trace-abc") && e["metadata"]?["correlation_id"] == .string("trace-abc"))
            #expect(e["metadata"]?["route_id"] == .string("open") && e["metadata"]?["client_port"] == .number(0))
            #expect(e["metadata"]?["server_name"] == .null && e["metadata"]?["upstream_id"] == .null)
            #expect(e["metadata"]?["protocol"] == .string("HTTP/1.1"))
            #expect(e["headers"]?["cookie"] == .array([.string("s=1")]))
            #expect(e["metadata"]?["timestamp"]?.stringValue?.hasSuffix("+00:00") == true)
        }
    }

    @Test func blockAnswersWithTheAgentsStatusBodyAndHeaders() async throws {
        let agent = try FakeAgent { _ in
            [.respond(AgentResponse(decision: .block(status: 401, body: "denied", headers: ["WWW-Authenticate": "Bearer"])))]
        }
        try await Self.serve(agent) { port, upstream, _ in
            let r = try Self.get(port, "/closed")
            #expect(r.status == 401 && r.body == "denied")
            #expect(r.header("WWW-Authenticate") == "Bearer" && r.header("Content-Type") == "text/plain")
            #expect(upstream.requests.isEmpty)
        }
    }

    @Test func redirectIsARealRedirectAndChallengeIsAllow() async throws {
        let agent = try FakeAgent { r in
            r.json?["uri"]?.stringValue == "/open/login"
                ? [.respond(AgentResponse(decision: .redirect(url: "https://login.example/", status: 307)))]
                : [.respond(AgentResponse(decision: .challenge(challengeType: "captcha", params: [:])))]
        }
        try await Self.serve(agent) { port, upstream, _ in
            let r = try Self.get(port, "/open/login")
            #expect(r.status == 307 && r.header("Location") == "https://login.example/")
            let c = try Self.get(port, "/open/other")
            #expect(c.status == 200 && c.body == "proxied")
            #expect(upstream.requests.count == 1)
        }
    }

    @Test func failureModesGiveTheOriginalsStatuses() async throws {
        let agent = try FakeAgent { _ in [.silent] }
        try await Self.serve(agent) { port, upstream, _ in
            let closed = try Self.get(port, "/closed")
            #expect(closed.status == 504 && closed.body == "Gateway timeout")
            let open = try Self.get(port, "/open")
            #expect(open.status == 200 && open.body == "proxied")
            let plain = try Self.get(port, "/plain")
            #expect(plain.status == 200)
            #expect(upstream.requests.count == 2)
        }
    }

    @Test func anAgentThatIsDownFailsClosedWith503AndOpenContinues() async throws {
        let agent = try FakeAgent { _ in [.respond(AgentResponse())] }
        try await Self.serve(agent) { port, _, server in
            agent.stop()
            // Every connection is gone once the pool has seen them close.
            for _ in 0..<100 where try await server.agentPool("a")!.readyConnections.get() > 0 { try await Task.sleep(for: .milliseconds(10)) }
            let closed = try Self.get(port, "/closed")
            #expect(closed.status == 503 && closed.body == "Service unavailable")
            #expect(try Self.get(port, "/open").status == 200)
        }
    }

    @Test func twoAgentsAreCalledInParallelAndTheFirstBlockInFilterOrderWins() async throws {
        let a = try FakeAgent { _ in [.respondAfter(.milliseconds(150), AgentResponse(requestHeaders: [.set(name: "X-A", value: "1")]))] }
        let b = try FakeAgent { r in
            r.json?["uri"]?.stringValue == "/both/block" ? [.respond(AgentResponse(decision: .block(status: 403, body: "b says no", headers: nil)))]
                : [.respondAfter(.milliseconds(150), AgentResponse(requestHeaders: [.set(name: "X-B", value: "2")]))]
        }
        try await Self.serve(a, second: b) { port, upstream, _ in
            let start = ContinuousClock.now
            let r = try Self.get(port, "/both/ok")
            // In parallel: about one delay, not two.
            #expect(ContinuousClock.now - start < .milliseconds(290))
            #expect(r.status == 200)
            let seen = try #require(upstream.requests.last)
            #expect(seen.header("X-A") == ["1"] && seen.header("X-B") == ["2"])
            let blocked = try Self.get(port, "/both/block")
            #expect(blocked.status == 403 && blocked.body == "b says no")
        }
    }

    @Test func configureCarriesTheAgentsConfigBlock() async throws {
        let agent = try FakeAgent { _ in [.respond(AgentResponse())] }
        try await Self.serve(agent, agentExtra: #"config { mode "block"; paranoia 2 }"#) { (port: Int, _: ScriptedUpstream, _: ProxyServer) async throws in
            let configures = agent.received.filter { $0.type == .configure }
            #expect(configures.count == 4)
            #expect(configures.first?.json?["config"] == .object(["mode": .string("block"), "paranoia": .number(2)]))
            #expect(try Self.get(port, "/open").status == 200)
        }
    }

    @Test func metricsCountCallsAndFailures() async throws {
        let agent = try FakeAgent { r in r.json?["uri"]?.stringValue == "/closed/slow" ? [.silent] : [.respond(AgentResponse())] }
        try await Self.serve(agent) { port, _, server in
            _ = try Self.get(port, "/open")
            _ = try Self.get(port, "/closed/slow")
            let text = server.metrics.render(version: "t")
            #expect(text.contains(#"sentinel_agent_calls_total{agent="a",event="request_headers"} 2"#))
            #expect(text.contains(#"sentinel_agent_failures_total{agent="a",reason="timeout"} 1"#))
            #expect(text.contains(#"sentinel_agent_ready_connections{agent="a"} 4"#))
        }
    }
}

/// Hot reload: a changed `config { }` reaches the running agent as Configure on every
/// connection; an agent added by a reload is connected and used.
@Suite(.serialized) struct AgentReloadTests {
    @Test func reloadReconfiguresAndAddsAgents() async throws {
        let a = try FakeAgent { _ in [.respond(AgentResponse())] }
        let b = try FakeAgent { _ in [.respond(AgentResponse(decision: .block(status: 451, body: "b", headers: nil)))] }
        let upstream = try await ScriptedUpstream { _ in .ok("proxied") }
        defer { a.stop(); b.stop() }
        let before = AgentFilterTests.config(upstream: upstream.port, agent: a.path, agentExtra: #"config { mode "x" }"#)
        let after = AgentFilterTests.config(upstream: upstream.port, agent: a.path, second: b.path, agentExtra: #"config { mode "y" }"#)
        try await withProxy(try ServerSnapshot.fromConfig(before)) { server, port in
            try await server.agentPool("a")!.whenReady(connections: 4).get()
            let pool = server.agentPool("a")!
            try server.reload(snapshot: try ServerSnapshot.fromConfig(after))
            #expect(server.agentPool("a") === pool)
            #expect(await a.waitUntil { $0.filter { $0.type == .configure && $0.json?["config"]?["mode"] == .string("y") }.count == 4 })
            try await server.agentPool("b")!.whenReady(connections: 4).get()
            let r = try AgentFilterTests.get(port, "/both/x")
            #expect(r.status == 451 && r.body == "b")
        }
        await upstream.shutdown()
    }
}
