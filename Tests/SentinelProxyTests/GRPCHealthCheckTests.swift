import NIOPosix
import SentinelPolicy
import SentinelTestSupport
import Synchronization
import Testing

@testable import SentinelProxy

/// `grpc` active health checks against a scripted grpc.health.v1 server over real sockets
/// (127.0.0.1, port 0). Tests wait on the transitions `UpstreamHealth` logs, never on sleeps.
@Suite(.serialized, .timeLimit(.minutes(1))) struct GRPCHealthCheckTests {
    static func spec(
        service: String = "", authority: String? = nil, timeout: Duration = .seconds(2), healthy: Int = 1, unhealthy: Int = 1
    ) -> HealthCheckSpec {
        HealthCheckSpec(
            kind: .grpc(service: service, authority: authority), interval: .milliseconds(20), timeout: timeout,
            healthyThreshold: healthy, unhealthyThreshold: unhealthy)
    }

    /// Runs a checker for `upstreams` while `body` waits on the log lines.
    /// `tap` sees each log line synchronously, on the checker's loop, before the test does.
    static func withChecker(
        _ upstreams: [UpstreamRuntime], tap: (@Sendable (String) -> Void)? = nil,
        _ body: (UpstreamHealth, inout AsyncStream<String>.Iterator) async throws -> Void
    ) async throws {
        let (stream, log) = HealthCheckerTests.logStream()
        var lines = stream.makeAsyncIterator()
        let health = UpstreamHealth(log: { line in
            tap?(line)
            log(line)
        })
        health.configure(upstreams, now: .zero)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let checker = HealthChecker(upstreams: upstreams, eventLoop: group.next(), health: health, clock: .system)
        checker.start()
        try await body(health, &lines)
        try await checker.stop().get()
        try await group.shutdownGracefully()
    }

    @Test func followsServingStatusThroughThresholds() async throws {
        let server = try await GRPCHealthServer(.status(1))
        // The calls the server had answered when each transition was logged. The log runs on the
        // checker's loop as the verdict lands, before the next probe can start, so this is exact.
        let answered = Mutex<[[UInt64?]]>([])
        let u = upstream(ports: [server.port], check: Self.spec(service: "shop.Cart", authority: "cart.internal", healthy: 3, unhealthy: 2))
        try await Self.withChecker([u], tap: { _ in answered.withLock { $0.append(server.calls.map(\.servingStatus)) } }) { health, lines in
            #expect(await HealthCheckerTests.waitFor("\"to\":\"healthy\"", in: &lines) != nil)
            // Exactly three successes were needed.
            #expect(answered.withLock { $0.last } == [1, 1, 1])
            server.behavior = .status(2)
            let down = await HealthCheckerTests.waitFor("\"to\":\"unhealthy\"", in: &lines)
            #expect(down?.contains("\"reason\":\"health status NOT_SERVING\"") == true)
            // Exactly two consecutive failures were needed.
            let calls = answered.withLock { $0.last } ?? []
            #expect(calls.suffix(2) == [2, 2])
            #expect(calls.dropLast(2).last == 1)
            #expect(!health.isEligible(upstream: "api", target: "127.0.0.1:\(server.port)", now: .zero))
            #expect(health.snapshot(now: .zero)[0].targets[0].probeError == "health status NOT_SERVING")
            server.behavior = .status(1)
            #expect(await HealthCheckerTests.waitFor("\"to\":\"healthy\"", in: &lines)?.contains("\"from\":\"unhealthy\"") == true)
            #expect(health.snapshot(now: .zero)[0].targets[0].probeError == nil)
        }
        // What the server saw: the standard health call, with the configured authority and service.
        let call = try #require(server.calls.first)
        #expect(call.header(":method") == "POST")
        #expect(call.header(":scheme") == "http")
        #expect(call.header(":path") == "/grpc.health.v1.Health/Check")
        #expect(call.header(":authority") == "cart.internal")
        #expect(call.header("content-type") == "application/grpc")
        #expect(call.header("te") == "trailers")
        #expect(call.header("user-agent") == "sentinel")
        #expect(call.body == [0, 0, 0, 0, 11, 0x0A, 9] + Array("shop.Cart".utf8))
        await server.shutdown()
    }

    @Test func authorityDefaultsToTheTargetAddress() async throws {
        let server = try await GRPCHealthServer(.status(1))
        let u = upstream(ports: [server.port], check: Self.spec())
        try await Self.withChecker([u]) { _, lines in
            #expect(await HealthCheckerTests.waitFor("\"to\":\"healthy\"", in: &lines) != nil)
        }
        #expect(server.calls.first?.header(":authority") == "127.0.0.1:\(server.port)")
        #expect(server.calls.first?.body == [0, 0, 0, 0, 0])  // service "": the empty message
        await server.shutdown()
    }

    @Test(arguments: [
        (GRPCHealthServer.Behavior.status(3), "health status SERVICE_UNKNOWN"),
        (.trailersOnly(code: 12, message: "unknown service"), "grpc-status 12 UNIMPLEMENTED: unknown service"),
        (.httpStatus(404), "HTTP status 404"),
        (.reset, "stream reset (REFUSED_STREAM)"),
        (.goAway, "GOAWAY (ENHANCE_YOUR_CALM)"),
        (.body([0, 0, 0, 0, 2, 0x0B, 1]), "malformed response: protobuf wire type 3 not allowed"),
        (.body([1, 0, 0, 0, 2, 0x08, 1]), "malformed response: compressed gRPC message (none was offered)"),
        (.oversizedMessage, "malformed response: gRPC message of 65537 bytes exceeds 65536"),
        (.hang, "timed out after 300ms"),
        (.notHTTP2, "HTTP/2 error"),
    ])
    func failuresCarryTheirReason(behavior: GRPCHealthServer.Behavior, reason: String) async throws {
        let server = try await GRPCHealthServer(behavior)
        let u = upstream(ports: [server.port], check: Self.spec(timeout: .milliseconds(300)))
        try await Self.withChecker([u]) { health, lines in
            let line = await HealthCheckerTests.waitFor("\"to\":\"unhealthy\"", in: &lines)
            #expect(line?.contains("\"reason\":\"\(reason)") == true, "\(line ?? "no line")")
            #expect(health.snapshot(now: .zero)[0].targets[0].probeError?.hasPrefix(reason) == true)
        }
        #expect(!server.calls.isEmpty)
        await server.shutdown()
    }

    @Test func refusedConnectionIsAFailure() async throws {
        let server = try await GRPCHealthServer()
        let port = server.port
        await server.shutdown()
        let u = upstream(ports: [port], check: Self.spec())
        try await Self.withChecker([u]) { _, lines in
            let line = await HealthCheckerTests.waitFor("\"to\":\"unhealthy\"", in: &lines)
            #expect(line?.contains("\"reason\":\"connect failed: connection refused\"") == true, "\(line ?? "no line")")
        }
    }

    /// A proxied route stops sending to a target whose gRPC check says NOT_SERVING and sends to it
    /// again once it says SERVING.
    @Test func proxyFollowsGRPCHealth() async throws {
        let a = try await GRPCHealthServer(.status(1), http1Body: "a")
        let b = try await GRPCHealthServer(.status(1), http1Body: "b")
        let (stream, log) = HealthCheckerTests.logStream()
        var lines = stream.makeAsyncIterator()
        let snapshot = ServerSnapshot(
            listeners: [.init(id: "main", port: 0)],
            router: try Router(routes: [RouteSpec(id: "r", pathPrefixes: ["/"], handler: 0)]),
            actions: [.proxy(ProxyRoute(upstream: 0))], instanceID: "t", version: "test",
            upstreams: [upstream(ports: [a.port, b.port], check: Self.spec(healthy: 1, unhealthy: 1), generation: 0)])
        let server = ProxyServer(eventLoopCount: 1, log: log)
        let port = try await server.start(snapshot: snapshot)[0].port
        func bodies(_ n: Int) throws -> [String] {
            let client = try RawClient(port: port)
            return try (0..<n).map { _ in try client.request("GET / HTTP/1.1\r\nHost: h\r\n\r\n").body }
        }
        func waitFor(_ to: String, target: Int) async -> Bool {
            while let line = await lines.next() {
                if line.contains("\"to\":\"\(to)\""), line.contains("\"target\":\"127.0.0.1:\(target)\"") { return true }
            }
            return false
        }
        #expect(Set(try bodies(4)) == ["a", "b"])
        a.behavior = .status(2)
        #expect(await waitFor("unhealthy", target: a.port))
        #expect(try bodies(10) == Array(repeating: "b", count: 10))
        a.behavior = .status(1)
        #expect(await waitFor("healthy", target: a.port))
        #expect(Set(try bodies(4)) == ["a", "b"])
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
        await a.shutdown()
        await b.shutdown()
    }
}
