import NIOPosix
import SentinelPolicy
import SentinelTestSupport
import Synchronization
import Testing

@testable import SentinelProxy

/// Active probes over real sockets. Tests wait on the transitions `UpstreamHealth` logs (an
/// AsyncStream fed by its logging closure), never on sleeps.
@Suite(.serialized, .timeLimit(.minutes(1))) struct HealthCheckerTests {
    /// Waits until a logged line contains `fragment`.
    static func waitFor(_ fragment: String, in lines: inout AsyncStream<String>.Iterator) async -> String? {
        while let line = await lines.next() {
            if line.contains(fragment) { return line }
        }
        return nil
    }

    static func logStream() -> (AsyncStream<String>, @Sendable (String) -> Void) {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        return (stream, { continuation.yield($0) })
    }

    @Test func httpCheckFollowsTheTargetThroughFailureAndRecovery() async throws {
        let status = Mutex(200)
        let target = try await ScriptedUpstream { request in
            #expect(request.requestLine == "GET /healthz HTTP/1.1")
            #expect(request.header("host") == ["api.internal"])
            #expect(request.header("connection") == ["close"])
            return .ok("", status: status.withLock { $0 })
        }
        let (stream, log) = Self.logStream()
        var lines = stream.makeAsyncIterator()
        let health = UpstreamHealth(log: log)
        let spec = HealthCheckSpec(
            kind: .http(path: "/healthz", expectedStatus: 200, host: "api.internal"), interval: .milliseconds(20),
            timeout: .seconds(2), healthyThreshold: 1, unhealthyThreshold: 2)
        let u = upstream(ports: [target.port], check: spec)
        health.configure([u], now: .zero)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let checker = HealthChecker(upstreams: [u], eventLoop: group.next(), health: health, clock: .system)
        checker.start()
        #expect(await Self.waitFor("\"to\":\"healthy\"", in: &lines) != nil)
        status.withLock { $0 = 500 }
        #expect(await Self.waitFor("\"to\":\"unhealthy\"", in: &lines)?.contains("\"from\":\"healthy\"") == true)
        #expect(!health.isEligible(upstream: "api", target: "127.0.0.1:\(target.port)", now: .zero))
        status.withLock { $0 = 200 }
        #expect(await Self.waitFor("\"to\":\"healthy\"", in: &lines) != nil)
        // The target stops listening: refused connections count as failures.
        await target.shutdown()
        #expect(await Self.waitFor("\"to\":\"unhealthy\"", in: &lines) != nil)
        try await checker.stop().get()
        try await group.shutdownGracefully()
    }

    @Test func tcpCheckMarksAClosedPortUnhealthyAndAnOpenOneHealthy() async throws {
        let open = try await ScriptedUpstream { _ in .hang }
        let closed = try await ScriptedUpstream { _ in .hang }
        let closedPort = closed.port
        await closed.shutdown()
        let (stream, log) = Self.logStream()
        var lines = stream.makeAsyncIterator()
        let health = UpstreamHealth(log: log)
        let spec = HealthCheckSpec(kind: .tcp, interval: .milliseconds(20), timeout: .seconds(2), healthyThreshold: 1, unhealthyThreshold: 1)
        let u = upstream(ports: [open.port, closedPort], check: spec)
        health.configure([u], now: .zero)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let checker = HealthChecker(upstreams: [u], eventLoop: group.next(), health: health, clock: .system)
        checker.start()
        var seen: Set<String> = []
        while seen.count < 2, let line = await lines.next() {
            if line.contains("\"to\":\"unhealthy\"") {
                #expect(line.contains("\"target\":\"127.0.0.1:\(closedPort)\""))
                seen.insert("unhealthy")
            }
            if line.contains("\"to\":\"healthy\"") {
                #expect(line.contains("\"target\":\"127.0.0.1:\(open.port)\""))
                seen.insert("healthy")
            }
        }
        #expect(seen == ["healthy", "unhealthy"])
        try await checker.stop().get()
        try await group.shutdownGracefully()
        await open.shutdown()
    }

    @Test func probeRequestRefusesInjection() {
        #expect(HealthChecker.LoopState.request(path: "/h", host: "a:1") != nil)
        #expect(HealthChecker.LoopState.request(path: "/h\r\nX: y", host: "a") == nil)
        #expect(HealthChecker.LoopState.request(path: "/h", host: "a b") == nil)
    }

    @Test func serverRunsChecksAndServesTheUpstreamsBuiltin() async throws {
        let target = try await ScriptedUpstream { _ in .ok("ok") }
        defer { Task { await target.shutdown() } }
        let (stream, log) = Self.logStream()
        var lines = stream.makeAsyncIterator()
        let spec = HealthCheckSpec(kind: .http(path: "/", expectedStatus: 200, host: nil), interval: .milliseconds(20), healthyThreshold: 1)
        var u = upstream(ports: [target.port], check: spec)
        u.generation = 0
        let snapshot = ServerSnapshot(
            listeners: [.init(id: "main", port: 0)],
            router: try Router(routes: [RouteSpec(id: "up", paths: ["/upstreams"], handler: 0)]),
            actions: [.builtin(.upstreams)], instanceID: "t", version: "test", upstreams: [u])
        let server = ProxyServer(eventLoopCount: 1, log: log)
        let bound = try await server.start(snapshot: snapshot)
        #expect(await Self.waitFor("\"to\":\"healthy\"", in: &lines) != nil)
        let response = try RawClient(port: bound[0].port).request("GET /upstreams HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(response.status == 200)
        #expect(response.body.contains("{\"address\":\"127.0.0.1:\(target.port)\",\"weight\":1,\"health\":\"healthy\",\"circuit_breaker\":\"closed\",\"ejected\":false,\"in_flight\":0,\"probe_error\":null}"))
        #expect(server.metrics.render(version: "t").contains("sentinel_upstream_target_healthy{upstream=\"api\",target=\"127.0.0.1:\(target.port)\"} 1"))
        // A reload keeps the verdict of a target that still exists.
        try server.reload(snapshot: snapshot)
        #expect(server.health.snapshot(now: .zero)[0].targets[0].health == .healthy)
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
    }
}
