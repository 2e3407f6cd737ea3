import SentinelHTTP1
import SentinelPolicy
import SentinelTestSupport
import Testing

@testable import SentinelProxy

/// Proxying end to end on the reactor data path (`system { data-path "reactor" }`): a real
/// Sentinel whose client and upstream connections are both the reactor's, against real
/// upstreams on 127.0.0.1.
@Suite struct ReactorDataPathProxyTests {
    static func snapshot(upstreamPort: Int, readTimeout: Duration = .seconds(5)) throws -> ServerSnapshot {
        var s = try ProxyTests.snapshot(upstreamPort: upstreamPort, readTimeout: readTimeout)
        s.dataPath = .reactor
        return s
    }

    /// Requests on two client connections, one after the other, share one upstream connection:
    /// it is parked between them and adopted by the next session.
    @Test func keepAliveUpstreamConnectionsCrossClientConnections() async throws {
        let upstream = try await ScriptedUpstream { r in .ok("for " + r.requestLine) }
        defer { Task { await upstream.shutdown() } }
        try await ProxyServer(eventLoopCount: 1).serving(try Self.snapshot(upstreamPort: upstream.port)) { port in
            let a = try RawClient(port: port)
            #expect(try a.request("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n").body == "for GET /1 HTTP/1.1")
            #expect(try a.request("GET /2 HTTP/1.1\r\nHost: h\r\n\r\n").body == "for GET /2 HTTP/1.1")
            let b = try RawClient(port: port)
            let r = try b.request("GET /3 HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(r.status == 200 && r.body == "for GET /3 HTTP/1.1")
            #expect(upstream.connectionCount == 1)
            #expect(upstream.requests.map(\.connection) == [1, 1, 1])
        }
    }

    /// A request body goes up, the answer comes down.
    @Test func aRequestBodyIsForwarded() async throws {
        let upstream = try await ScriptedUpstream { r in .ok("\(r.body.count)") }
        defer { Task { await upstream.shutdown() } }
        try await ProxyServer(eventLoopCount: 1).serving(try Self.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            let body = String(repeating: "b", count: 300_000)
            let r = try c.request("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
            #expect(r.status == 200 && r.body == "300000")
        }
    }

    /// A response far larger than the connections' watermarks reaches the client whole.
    @Test func aLargeResponseArrivesWhole() async throws {
        let size = 4 * 1024 * 1024
        let upstream = try await ScriptedUpstream { _ in .ok(String(repeating: "x", count: size)) }
        defer { Task { await upstream.shutdown() } }
        try await ProxyServer(eventLoopCount: 1).serving(try Self.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            let r = try c.request("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(r.status == 200 && r.body.utf8.count == size)
        }
    }

    /// Nothing listens on the target: the reactor answers exactly as the NIO path does (the
    /// same status, a JSON body).
    @Test func aRefusedConnectIsAnsweredAsOnNIO() async throws {
        let port = try closedPort()
        var statuses: [Int] = []
        for path in [ServerSnapshot.DataPath.nio, .reactor] {
            var snapshot = try ProxyTests.snapshot(upstreamPort: port)
            snapshot.dataPath = path
            try await ProxyServer(eventLoopCount: 1).serving(snapshot) { port in
                let c = try RawClient(port: port)
                let r = try c.request("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
                statuses.append(r.status)
                #expect(r.header("Content-Type") == "application/json")
            }
        }
        #expect(statuses.count == 2 && statuses[0] == statuses[1] && statuses[0] >= 502, "\(statuses)")
    }

    /// The reload regression of the NIO path (`ProxyTests`), on the reactor: after a reload that
    /// put another address at the same target position, no request goes to the old backend.
    @Test func aReloadThatMovesATargetSendsNoRequestToTheOldBackend() async throws {
        let a = try await ScriptedUpstream { _ in .ok("from a") }
        let b = try await ScriptedUpstream { _ in .ok("from b") }
        defer { Task { await a.shutdown(); await b.shutdown() } }
        let server = ProxyServer(eventLoopCount: 1)
        try await server.serving(try Self.snapshot(upstreamPort: a.port)) { port in
            let c = try RawClient(port: port)
            #expect(try c.request("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n").body == "from a")
            #expect(try c.request("GET /2 HTTP/1.1\r\nHost: h\r\n\r\n").body == "from a")
            #expect(a.connectionCount == 1)
            try server.reload(snapshot: try Self.snapshot(upstreamPort: b.port))
            #expect(try c.request("GET /3 HTTP/1.1\r\nHost: h\r\n\r\n").body == "from b")
            #expect(a.requests.count == 2)
            // An unchanged target keeps its pooled connection across a reload.
            try server.reload(snapshot: try Self.snapshot(upstreamPort: b.port, readTimeout: .seconds(6)))
            #expect(try c.request("GET /4 HTTP/1.1\r\nHost: h\r\n\r\n").body == "from b")
            #expect(b.connectionCount == 1)
        }
    }

    /// An upstream that stays silent past its read timeout: 504 from the reactor's timer.
    @Test func upstreamSilenceIsA504() async throws {
        let upstream = try await ScriptedUpstream { _ in .hang }
        defer { Task { await upstream.shutdown() } }
        try await ProxyServer(eventLoopCount: 1).serving(
            try Self.snapshot(upstreamPort: upstream.port, readTimeout: .milliseconds(300))
        ) { port in
            let c = try RawClient(port: port)
            #expect(try c.request("GET / HTTP/1.1\r\nHost: h\r\n\r\n").status == 504)
        }
    }
}
