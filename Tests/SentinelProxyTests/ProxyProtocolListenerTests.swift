import SentinelConfig
import SentinelRuntime
import SentinelTestSupport
import Testing

@testable import SentinelProxy

/// `proxy-protocol #true` listeners on both data paths: the header's client is the client for
/// X-Forwarded-For and rate limits; untrusted peers and bad headers are closed and counted.
@Suite(.serialized) struct ProxyProtocolListenerTests {
    static let dataPaths = ["nio", "reactor"]

    static func serve(
        dataPath: String, trusted: String = #"trusted-proxies "127.0.0.1""#, metrics: MetricsRegistry = .init(),
        upstream: ScriptedUpstream, _ body: (Int) async throws -> Void
    ) async throws {
        let text = """
            system { worker-threads 1; data-path "\(dataPath)"; \(trusted) }
            listeners { listener "http" { address "127.0.0.1:0"; proxy-protocol #true } }
            upstreams { upstream "app" { target "127.0.0.1:\(upstream.port)" } }
            filters { filter "rl" { type "rate-limit"; max-rps 1; burst 1 } }
            routes { route "r" { matches { path-prefix "/" }; upstream "app"; filters "rl" } }
            """
        try await ProxyServer(eventLoopCount: 1, metrics: metrics).serving(try ServerSnapshot.fromConfig(text), body)
    }

    /// The server closed `c` without a byte, well before the client's 10 s receive timeout
    /// (which would also end `readAll`) and the listener's 60 s request timeout.
    static func closedUnanswered(_ c: RawClient) -> Bool {
        let start = ContinuousClock.now
        let text = c.readAll()
        return text.isEmpty && ContinuousClock.now - start < .seconds(5)
    }

    static func v2(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> [UInt8] {
        [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C,
         a, b, c, d, 127, 0, 0, 1, 0xC8, 0x35, 0x00, 0x50]
    }

    /// The header's client goes upstream in X-Forwarded-For (the peer, a trusted proxy, is not
    /// the client) and keys the rate limit: two clients behind one balancer have a bucket each.
    @Test(arguments: dataPaths) func theHeadersClientIsTheClient(_ dataPath: String) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("ok") }
        defer { Task { await upstream.shutdown() } }
        let metrics = MetricsRegistry()
        try await Self.serve(dataPath: dataPath, metrics: metrics, upstream: upstream) { port in
            let a = try RawClient(port: port)
            a.send("PROXY TCP4 203.0.113.7 127.0.0.1 51253 80\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n")
            let first = try a.readResponse()
            #expect(first.status == 200)
            #expect(first.header("X-RateLimit-Limit") == "1")
            #expect(try a.request("GET /a HTTP/1.1\r\nHost: h\r\n\r\n").status == 429)
            // A second client (version 2 header, sent in pieces) has its own bucket.
            let b = try RawClient(port: port)
            let header = Self.v2(198, 51, 100, 9)
            b.send(bytes: Array(header[..<5]))
            b.send(bytes: Array(header[5...]) + Array("GET /b HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
            #expect(try b.readResponse().status == 200)
            let seen = upstream.requests.map { $0.header("x-forwarded-for") }
            #expect(seen == [["203.0.113.7"], ["198.51.100.9"]])
            #expect(metrics.render(version: "t").contains(#"sentinel_proxy_protocol_connections_total{result="accepted"} 2"#))
        }
    }

    /// A request without the header (plain HTTP) and a broken header close the connection
    /// unanswered; a peer outside trusted-proxies is closed before it sends anything.
    @Test(arguments: dataPaths) func badHeadersAndUntrustedPeersAreClosed(_ dataPath: String) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("ok") }
        defer { Task { await upstream.shutdown() } }
        let metrics = MetricsRegistry()
        try await Self.serve(dataPath: dataPath, metrics: metrics, upstream: upstream) { port in
            let plain = try RawClient(port: port)
            plain.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(Self.closedUnanswered(plain))
            let broken = try RawClient(port: port)
            broken.send("PROXY TCP4 203.0.113.777 127.0.0.1 1 80\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(Self.closedUnanswered(broken))
            #expect(metrics.render(version: "t").contains(#"sentinel_proxy_protocol_connections_total{result="invalid"} 2"#))
        }
        let untrusted = MetricsRegistry()
        try await Self.serve(dataPath: dataPath, trusted: #"trusted-proxies "10.0.0.0/8""#, metrics: untrusted, upstream: upstream) { port in
            let c = try RawClient(port: port)
            c.send("PROXY TCP4 203.0.113.7 127.0.0.1 51253 80\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(Self.closedUnanswered(c))
            #expect(untrusted.render(version: "t").contains(#"sentinel_proxy_protocol_connections_total{result="untrusted"} 1"#))
        }
        #expect(upstream.requests.isEmpty)
    }

    @Test func proxyProtocolNeedsTrustedProxies() {
        let text = """
            system { worker-threads 1 }
            listeners { listener "http" { address "127.0.0.1:0"; proxy-protocol #true } }
            routes { route "h" { matches { path "/health" }; builtin-handler "health" } }
            """
        guard case .failure(let e) = ConfigLoader.load(text: text) else { Issue.record("loaded"); return }
        #expect(e.rendered().contains("proxy-protocol needs system { trusted-proxies }"))
    }
}
