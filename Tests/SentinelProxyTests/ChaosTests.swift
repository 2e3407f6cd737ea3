import SentinelPolicy
import SentinelTestSupport
import Testing

@testable import SentinelProxy

/// Backends failing under load, with real sockets: traffic must move away within the configured
/// thresholds, and idempotent requests must not see errors that a retry could have hidden.
@Suite(.serialized) struct ChaosTests {
    static func snapshot(ports: [Int], resilience: UpstreamResilience = .init(), retry: RetryRules? = nil) throws -> ServerSnapshot {
        var upstream = UpstreamRuntime(
            id: "pool", targets: ports.map { .init(host: "127.0.0.1", port: $0) }, connectTimeout: .seconds(2),
            requestTimeout: .seconds(10), readTimeout: .seconds(5))
        upstream.resilience = resilience
        return ServerSnapshot(
            listeners: [.init(id: "main", port: 0)],
            router: try Router(routes: [RouteSpec(id: "app", pathPrefixes: ["/"], handler: 0)]),
            actions: [.proxy(ProxyRoute(upstream: 0, retry: retry))], instanceID: "t", version: "test",
            upstreams: [upstream])
    }

    @Test func backendKilledUnderLoadCostsNoIdempotentRequest() async throws {
        let a = try await ScriptedUpstream { _ in .ok("a") }
        let b = try await ScriptedUpstream { _ in .ok("b") }
        let c = try await ScriptedUpstream { _ in .ok("c") }
        defer { Task { await a.shutdown(); await b.shutdown() } }
        let server = ProxyServer(eventLoopCount: 1)
        let port = try await server.start(snapshot: try Self.snapshot(ports: [a.port, b.port, c.port]))[0].port
        let clients = try (0..<4).map { _ in try RawClient(port: port) }
        var bodies: [String: Int] = [:]
        var failures = 0
        for round in 0..<150 {
            if round == 50 { await c.shutdown() }  // killed mid-run, with pooled connections open
            for client in clients {
                let r = try client.request("GET /r\(round) HTTP/1.1\r\nHost: h\r\n\r\n")
                if r.status == 200 { bodies[r.body, default: 0] += 1 } else { failures += 1 }
            }
        }
        #expect(failures == 0)
        #expect((bodies["a"] ?? 0) > 150 && (bodies["b"] ?? 0) > 150)
        #expect((bodies["c"] ?? 0) < 4 * 51)
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
    }

    @Test func failingBackendIsEjectedByTheBreaker() async throws {
        let bad = try await ScriptedUpstream { _ in .ok("boom", status: 500) }
        let good = try await ScriptedUpstream { _ in .ok("ok") }
        defer { Task { await bad.shutdown(); await good.shutdown() } }
        var resilience = UpstreamResilience()
        resilience.circuitBreaker = .init(failureThreshold: 3, successThreshold: 1, timeout: .seconds(3600), halfOpenMaxRequests: 1)
        let server = ProxyServer(eventLoopCount: 1)
        let port = try await server.start(snapshot: try Self.snapshot(ports: [bad.port, good.port], resilience: resilience))[0].port
        let client = try RawClient(port: port)
        var statuses: [Int] = []
        for i in 0..<40 {
            statuses.append(try client.request("GET /\(i) HTTP/1.1\r\nHost: h\r\n\r\n").status)
        }
        // Round robin alternates until the bad target's breaker opens after 3 failures.
        #expect(statuses.filter { $0 == 500 }.count == 3)
        #expect(statuses.suffix(30).allSatisfy { $0 == 200 })
        #expect(bad.requests.count == 3)
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
    }

    @Test func allBackendsDownGivesFast503s() async throws {
        let x = try await ScriptedUpstream { _ in .close }
        let y = try await ScriptedUpstream { _ in .close }
        let ports = [x.port, y.port]
        await x.shutdown()
        await y.shutdown()
        let server = ProxyServer(eventLoopCount: 1)
        let port = try await server.start(snapshot: try Self.snapshot(ports: ports))[0].port
        let client = try RawClient(port: port)
        let clock = ContinuousClock()
        let started = clock.now
        for i in 0..<20 {
            let r = try client.request("GET /\(i) HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(r.status == 503)
        }
        // Refusals are answered at once: 20 requests take far less than one connect timeout.
        #expect(clock.now - started < .seconds(2))
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
    }

    @Test func trafficReturnsWhenTheBackendRecovers() async throws {
        let healthy = Flag()
        let flaky = try await ScriptedUpstream { _ in healthy.value ? .ok("flaky") : .ok("boom", status: 503) }
        let steady = try await ScriptedUpstream { _ in .ok("steady") }
        defer { Task { await flaky.shutdown(); await steady.shutdown() } }
        var resilience = UpstreamResilience()
        resilience.circuitBreaker = .init(failureThreshold: 2, successThreshold: 1, timeout: .seconds(30), halfOpenMaxRequests: 1)
        let offset = Offset()
        let clock = ServerClock(
            wallSeconds: ServerClock.system.wallSeconds,
            monotonicNanos: { ServerClock.system.monotonicNanos() &+ offset.nanos })
        let server = ProxyServer(eventLoopCount: 1, clock: clock)
        let port = try await server.start(snapshot: try Self.snapshot(ports: [flaky.port, steady.port], resilience: resilience))[0].port
        let first = try RawClient(port: port)
        for i in 0..<10 { _ = try first.request("GET /\(i) HTTP/1.1\r\nHost: h\r\n\r\n") }
        #expect(flaky.requests.count == 2)  // the breaker opened after two 503s
        healthy.value = true
        offset.nanos = 60_000_000_000  // past the breaker's 30 s: the next pick may try it (half-open)
        let second = try RawClient(port: port)
        var bodies: [String: Int] = [:]
        for i in 0..<20 { bodies[try second.request("GET /\(i) HTTP/1.1\r\nHost: h\r\n\r\n").body, default: 0] += 1 }
        #expect((bodies["flaky"] ?? 0) >= 8)  // closed again after one successful trial: round robin resumes
        #expect(bodies["boom"] == nil)
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
    }
}

extension ChaosTests {
    @Test func fallbackUpstreamServesWhenThePrimaryIsDownOrFailing() async throws {
        let dead = try await ScriptedUpstream { _ in .close }
        let deadPort = dead.port
        await dead.shutdown()
        let failing = try await ScriptedUpstream { _ in .ok("bad", status: 502) }
        let backup = try await ScriptedUpstream { _ in .ok("backup") }
        defer { Task { await failing.shutdown(); await backup.shutdown() } }
        func upstream(_ id: String, _ port: Int) -> UpstreamRuntime {
            UpstreamRuntime(id: id, targets: [.init(host: "127.0.0.1", port: port)], connectTimeout: .seconds(2))
        }
        let snapshot = ServerSnapshot(
            listeners: [.init(id: "main", port: 0)],
            router: try Router(routes: [
                RouteSpec(id: "down", pathPrefixes: ["/down"], handler: 0),
                RouteSpec(id: "err", pathPrefixes: ["/err"], handler: 1),
            ]),
            actions: [
                .proxy(ProxyRoute(upstream: 0, fallback: FallbackPlan(upstreams: [2]))),
                .proxy(ProxyRoute(upstream: 1, fallback: FallbackPlan(upstreams: [2], onErrorCodes: [502]))),
            ],
            instanceID: "t", version: "test",
            upstreams: [upstream("primary", deadPort), upstream("flaky", failing.port), upstream("backup", backup.port)])
        let server = ProxyServer(eventLoopCount: 1)
        let port = try await server.start(snapshot: snapshot)[0].port
        let client = try RawClient(port: port)
        let down = try client.request("GET /down HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(down.status == 200)
        #expect(down.body == "backup")
        #expect(down.header("X-Fallback-Used") == "true")
        #expect(down.header("X-Fallback-Upstream") == "backup")
        #expect(down.header("X-Original-Upstream") == "primary")
        #expect(down.header("X-Fallback-Reason") == "connection_error")
        let err = try client.request("GET /err HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(err.body == "backup")
        #expect(err.header("X-Fallback-Reason") == "status_502")
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
    }
}

import Synchronization

final class Flag: Sendable {
    private let m = Mutex(false)
    var value: Bool {
        get { m.withLock { $0 } }
        set { m.withLock { $0 = newValue } }
    }
}

final class Offset: Sendable {
    private let m = Mutex<UInt64>(0)
    var nanos: UInt64 {
        get { m.withLock { $0 } }
        set { m.withLock { $0 = newValue } }
    }
}
