#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SentinelPolicy
import SentinelTestSupport
import Testing

@testable import SentinelProxy

/// End-to-end proxying over real sockets: a raw client → Sentinel → a scripted upstream that
/// records every byte it receives.
@Suite(.serialized) struct ProxyTests {
    static func snapshot(
        upstreamPort: Int, websocket: Bool = false, readTimeout: Duration = .seconds(5), requestTimeout: Duration = .seconds(10),
        maxBody: Int? = nil,
        extraTargets: [Int] = [], requestHeaders: HeaderEdits = .init(), responseHeaders: HeaderEdits = .init(),
        accessLog: AccessLogSettings? = nil, retry: RetryRules? = nil
    ) throws -> ServerSnapshot {
        let routes = [
            RouteSpec(id: "health", paths: ["/health"], handler: 0),
            RouteSpec(id: "app", pathPrefixes: ["/"], handler: 1),
        ]
        let targets = ([upstreamPort] + extraTargets).map { UpstreamRuntime.Target(host: "127.0.0.1", port: $0) }
        let upstream = UpstreamRuntime(
            id: "app", targets: targets, connectTimeout: .seconds(2), requestTimeout: requestTimeout, readTimeout: readTimeout)
        return ServerSnapshot(
            listeners: [.init(id: "main", port: 0)], router: try Router(routes: routes),
            actions: [.builtin(.health), .proxy(ProxyRoute(
                upstream: 0, websocket: websocket, maxBodyBytes: maxBody, requestHeaders: requestHeaders,
                responseHeaders: responseHeaders, retry: retry))],
            instanceID: "t", version: "test", upstreams: [upstream], accessLog: accessLog)
    }

    /// `path`: the data path serving the listener (most tests run on both).
    static func withProxy(
        path: ServerSnapshot.DataPath = .nio, _ snapshot: ServerSnapshot, _ body: (Int) async throws -> Void
    ) async throws {
        var snapshot = snapshot
        snapshot.dataPath = path
        try await ProxyServer(eventLoopCount: 1).serving(snapshot, body)
    }

    /// Regression: the pool keeps idle connections by upstream and target position, so after a
    /// reload that put another address at the same position, the next request went to the old
    /// backend over its pooled connection. A connection from an earlier generation is reused
    /// only when its address is still the target's.
    @Test func aReloadThatMovesATargetSendsNoRequestToTheOldBackend() async throws {
        let a = try await ScriptedUpstream { _ in .ok("from a") }
        let b = try await ScriptedUpstream { _ in .ok("from b") }
        defer { Task { await a.shutdown(); await b.shutdown() } }
        let server = ProxyServer(eventLoopCount: 1)
        try await server.serving(try Self.snapshot(upstreamPort: a.port)) { port in
            let c = try RawClient(port: port)
            #expect(try c.request("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n").body == "from a")
            #expect(try c.request("GET /2 HTTP/1.1\r\nHost: h\r\n\r\n").body == "from a")
            #expect(a.connectionCount == 1)  // the second request reused the pooled connection
            try server.reload(snapshot: try Self.snapshot(upstreamPort: b.port))
            #expect(try c.request("GET /3 HTTP/1.1\r\nHost: h\r\n\r\n").body == "from b")
            #expect(a.requests.count == 2)
            // An unchanged target keeps its pooled connection across a reload.
            try server.reload(snapshot: try Self.snapshot(upstreamPort: b.port, readTimeout: .seconds(6)))
            #expect(try c.request("GET /4 HTTP/1.1\r\nHost: h\r\n\r\n").body == "from b")
            #expect(b.connectionCount == 1)
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func forwardsWithForwardingFieldsAndWithoutHopByHop(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in
            .ok("hi", headers: [("Connection", "X-Secret"), ("X-Secret", "1"), ("Keep-Alive", "timeout=5"), ("X-App", "yes")])
        }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            let r = try c.request(
                "GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive, X-Drop\r\nX-Drop: gone\r\n"
                    + "TE: trailers\r\nProxy-Authorization: Basic abc\r\nX-Forwarded-For: 10.1.1.1\r\n"
                    + "X-Forwarded-Proto: https\r\nX-Keep: kept\r\n\r\n")
            #expect(r.status == 200)
            #expect(r.body == "hi")
            #expect(r.header("X-App") == "yes")
            #expect(r.header("X-Secret") == nil)
            #expect(r.header("Keep-Alive") == nil)
            let requestID = try #require(r.header("X-Request-Id"))
            #expect(r.header("X-Correlation-Id") == nil)
            let seen = try #require(upstream.requests.first)
            #expect(seen.requestLine == "GET /a/b?x=1 HTTP/1.1")
            #expect(seen.header("host") == ["example.com"])
            #expect(seen.header("x-keep") == ["kept"])
            #expect(seen.header("x-drop").isEmpty)
            #expect(seen.header("connection").isEmpty)
            #expect(seen.header("te").isEmpty)
            #expect(seen.header("proxy-authorization").isEmpty)
            // The client is no trusted proxy: its forwarding claims are replaced, not extended.
            #expect(seen.header("x-forwarded-for") == ["127.0.0.1"])
            #expect(seen.header("x-forwarded-proto") == ["http"])
            #expect(seen.header("x-forwarded-host") == ["example.com"])
            #expect(seen.header("forwarded") == ["for=127.0.0.1;proto=http;host=\"example.com\""])
            #expect(seen.header("via") == ["1.1 sentinel"])
            // One request id, under one name, upstream and to the client.
            #expect(seen.header("x-request-id") == [requestID])
            #expect(seen.header("x-trace-id").isEmpty)
            #expect(seen.header("x-correlation-id").isEmpty)
            #expect(seen.header("traceparent").count == 1)
            #expect(seen.header("traceparent").first?.hasPrefix("00-") == true)
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func keepAliveReusesTheUpstreamConnectionAndPipelinesInOrder(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { r in .ok("body of " + r.requestLine) }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            #expect(try c.request("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n").body == "body of GET /1 HTTP/1.1")
            #expect(try c.request("GET /2 HTTP/1.1\r\nHost: h\r\n\r\n").body == "body of GET /2 HTTP/1.1")
            // Three pipelined requests in one write.
            c.send("GET /3 HTTP/1.1\r\nHost: h\r\n\r\nGET /4 HTTP/1.1\r\nHost: h\r\n\r\nGET /5 HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(try c.readResponse().body.hasSuffix("/3 HTTP/1.1"))
            #expect(try c.readResponse().body.hasSuffix("/4 HTTP/1.1"))
            #expect(try c.readResponse().body.hasSuffix("/5 HTTP/1.1"))
            #expect(upstream.connectionCount == 1)
        }
    }

    /// A response far larger than the socket buffers and the write watermark, read through a
    /// 4 KiB receive window: the client connection turns unwritable and writable again many
    /// times, Sentinel pauses and resumes the upstream each time, and every byte arrives in
    /// order. Regression guard for the writability Sentinel tracks from NIO's events (a stale
    /// "unwritable" would stall the exchange until its timeout).
    @Test(arguments: ServerSnapshot.DataPath.allCases) func aLargeResponseToASlowReaderArrivesWhole(_ path: ServerSnapshot.DataPath) async throws {
        let size = 8 * 1024 * 1024
        var body = [UInt8](repeating: 0, count: size)
        for i in 0..<size { body[i] = UInt8(truncatingIfNeeded: i % 251) }
        let reply = Array("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n".utf8) + body
        let upstream = try await ScriptedUpstream { r in r.requestLine.hasPrefix("GET /big") ? .bytes(reply) : .ok("small") }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port, receiveBuffer: 4096)
            c.send("GET /big HTTP/1.1\r\nHost: h\r\n\r\n")
            let r = try c.readResponseBytes()
            #expect(r.status == 200)
            #expect(r.body.count == size)
            #expect(r.body == body)
            // The connection (and the upstream's) stays usable.
            #expect(try c.request("GET /after HTTP/1.1\r\nHost: h\r\n\r\n").body == "small")
        }
    }

    /// The upload direction: an 8 MiB body to an upstream that reads through a 4 KiB window.
    /// The upstream connection turns unwritable and writable again many times, Sentinel stops
    /// and resumes reading the client each time, and the upstream gets every byte in order.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func aLargeUploadToASlowUpstreamArrivesWhole(_ path: ServerSnapshot.DataPath) async throws {
        let size = 8 * 1024 * 1024
        let listener = try LoopbackListener(receiveBuffer: 4096)
        listener.start { fd in
            defer { close(fd) }
            var received: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            var headEnd: Int?
            var length = 0
            while headEnd == nil || received.count < headEnd! + length {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return }
                received += chunk[0..<n]
                if headEnd == nil, let end = received.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound {
                    headEnd = end
                    let head = String(decoding: received[0..<end], as: UTF8.self).lowercased()
                    let line = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") } ?? ""
                    length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
            var ordered = true
            for (i, byte) in received[headEnd!...].enumerated() where byte != UInt8(truncatingIfNeeded: i % 251) {
                ordered = false
                break
            }
            let answer = "\(received.count - headEnd!) \(ordered)"
            let reply = Array("HTTP/1.1 200 OK\r\nContent-Length: \(answer.utf8.count)\r\n\r\n\(answer)".utf8)
            _ = reply.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        var body = [UInt8](repeating: 0, count: size)
        for i in 0..<size { body[i] = UInt8(truncatingIfNeeded: i % 251) }
        // The upstream's silence lasts the whole upload (4–5 s through its 4 KiB window on an
        // idle machine, over 11 s at a load average of 25): read and whole-request timeouts with
        // room for that, since this test is about every byte arriving in order, not about timing.
        let snapshot = try Self.snapshot(upstreamPort: listener.port, readTimeout: .seconds(60), requestTimeout: .seconds(120))
        try await Self.withProxy(path: path, snapshot) { port in
            let c = try RawClient(port: port)
            c.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: \(size)\r\n\r\n")
            c.send(bytes: body)
            let r = try c.readResponse()
            #expect(r.status == 200)
            #expect(r.body == "\(size) true")
        }
    }

    /// Accepted client connections have TCP_NODELAY (small responses are not held back by
    /// Nagle's algorithm). The server runs in this process, so its end of the connection is
    /// found among this process's descriptors by its peer address.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func acceptedConnectionsHaveNoDelay(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("x") }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            #expect(try c.request("GET / HTTP/1.1\r\nHost: h\r\n\r\n").body == "x")
            let clientPort = Self.localPort(of: c.fd)
            var serverSide: Int32?
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
                guard let fd = Int32(entry), fd != c.fd else { continue }
                if Self.peerPort(of: fd) == clientPort, Self.localPort(of: fd) == port { serverSide = fd }
            }
            let fd = try #require(serverSide, "the accepted socket was not found")
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            #expect(getsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &length) == 0)
            #expect(value != 0)
        }
    }

    static func localPort(of fd: Int32) -> Int? { port(of: fd, peer: false) }
    static func peerPort(of fd: Int32) -> Int? { port(of: fd, peer: true) }
    private static func port(of fd: Int32, peer: Bool) -> Int? {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &len) : getsockname(fd, $0, &len) }
        }
        guard rc == 0, addr.sin_family == sa_family_t(AF_INET) else { return nil }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func requestBodiesAreStreamedExactly(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { r in .ok("got \(r.body.count)") }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            let payload = String(repeating: "x", count: 100_000)
            let r = try c.request("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n" + payload)
            #expect(r.body == "got 100000")
            let chunked = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
            let r2 = try c.request("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
            #expect(r2.status == 200)
            let seen = upstream.requests
            #expect(seen.count == 2)
            #expect(seen[0].body.count == 100_000)
            #expect(String(decoding: seen[1].body, as: UTF8.self) == chunked)
            #expect(seen[1].header("transfer-encoding") == ["chunked"])
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func smugglingShapesNeverReachTheUpstream(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("should not happen") }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port)) { port in
            let cases = [
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
                "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
                "GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n",
                "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
                "GET / HTTP/1.1\r\n\r\n",
            ]
            for raw in cases {
                let c = try RawClient(port: port)
                let r = try c.request(raw)
                #expect(r.status >= 400 && r.status < 600, "\(raw.debugDescription) → \(r.status)")
                #expect(r.header("Content-Type") == "application/json")
                #expect(c.isClosedByServer())
            }
            for traversal in ["/public/../admin", "/a/%2e%2e/b"] {
                let c = try RawClient(port: port)
                #expect(try c.request("GET \(traversal) HTTP/1.1\r\nHost: h\r\n\r\n").status == 400)
            }
            let badChunk = try RawClient(port: port)
            let r = try badChunk.request("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
            #expect(r.status == 400)
            #expect(upstream.requests.isEmpty)
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func upstreamFailuresBecomeJSONErrors(_ path: ServerSnapshot.DataPath) async throws {
        // Refused: nothing listens on the port of a closed upstream.
        let closed = try await ScriptedUpstream { _ in .close }
        let deadPort = closed.port
        await closed.shutdown()
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: deadPort)) { port in
            let r = try RawClient(port: port).request("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(r.status == 503)
            #expect(r.body.hasPrefix("{\"error\":\"503 Service Unavailable\""))
        }
        let hang = try await ScriptedUpstream { _ in .hang }
        defer { Task { await hang.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: hang.port, readTimeout: .milliseconds(200))) { port in
            let r = try RawClient(port: port).request("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(r.status == 504)
        }
        let garbage = try await ScriptedUpstream { _ in .bytesThenClose(Array("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)) }
        defer { Task { await garbage.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: garbage.port)) { port in
            let r = try RawClient(port: port).request("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(r.status == 502)
        }
        // Regression: a coding other than chunked was dropped on the way (gzip bytes reached the
        // client unannounced); "chunked, gzip" was read to close the same way.
        for coding in ["gzip, chunked", "chunked, gzip"] {
            let coded = try await ScriptedUpstream { _ in
                .bytesThenClose(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: \(coding)\r\n\r\n5\r\nhello\r\n0\r\n\r\n".utf8))
            }
            try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: coded.port)) { port in
                let r = try RawClient(port: port).request("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
                #expect(r.status == 502, "\(coding)")
                #expect(r.body.hasPrefix("{\"error\":\"502"), "\(coding)")
            }
            await coded.shutdown()
        }
    }

    /// The exchange deadline shares the connection's lazily re-armed timer: a request that hangs
    /// after quick ones on the same kept-alive connection must still time out on time.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func aHangingRequestAfterQuickOnesOnOneConnectionTimesOut(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { r in r.requestLine.hasPrefix("GET /hang") ? .hang : .ok("quick") }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port, readTimeout: .milliseconds(300))) { port in
            let c = try RawClient(port: port)
            for i in 0..<3 { #expect(try c.request("GET /\(i) HTTP/1.1\r\nHost: h\r\n\r\n").body == "quick") }
            let clock = ContinuousClock()
            let started = clock.now
            let r = try c.request("GET /hang HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(r.status == 504)
            // Within the read timeout plus scheduling slack (not the 10 s request timeout).
            #expect(clock.now - started < .seconds(5))
            // The connection stays usable for the next request.
            #expect(try c.request("GET /after HTTP/1.1\r\nHost: h\r\n\r\n").body == "quick")
        }
    }

    /// Regression: a response that ends on its head (HEAD, 204, 304) was never flushed to the
    /// client; the request hung until a timeout.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func bodilessResponsesAreDeliveredAndTheConnectionContinues(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { r in
            if r.requestLine.hasPrefix("HEAD") { return .bytes(Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".utf8)) }
            if r.requestLine.contains("/204") { return .bytes(Array("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n".utf8)) }
            if r.requestLine.contains("/304") { return .bytes(Array("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n".utf8)) }
            if r.requestLine.contains("/empty") { return .bytes(Array("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n".utf8)) }
            return .ok("after")
        }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            let head = try c.request("HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n", head: true)
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == "5")
            let noContent = try c.request("GET /204 HTTP/1.1\r\nHost: h\r\n\r\n", head: true)
            #expect(noContent.status == 204)
            // A 204 never carries Content-Length (RFC 9110 §8.6), whatever the upstream sent.
            #expect(noContent.header("Content-Length") == nil)
            let notModified = try c.request("GET /304 HTTP/1.1\r\nHost: h\r\n\r\n", head: true)
            #expect(notModified.status == 304)
            #expect(notModified.header("ETag") == "\"x\"")
            #expect(try c.request("POST /empty HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n").status == 201)
            #expect(try c.request("GET /next HTTP/1.1\r\nHost: h\r\n\r\n").body == "after")
        }
    }

    /// Small bodies travel in the head's buffer, larger ones on their own: both byte-exact.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func responseBodiesAroundTheInlineLimitAreExact(_ path: ServerSnapshot.DataPath) async throws {
        let sizes = [1, 8191, 8192, 8193, 100_000]
        let upstream = try await ScriptedUpstream { r in
            let n = Int(r.requestLine.split(separator: " ")[1].dropFirst()) ?? 0
            return .ok(String(repeating: "x", count: n - 1) + "!")
        }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            for n in sizes {
                let r = try c.request("GET /\(n) HTTP/1.1\r\nHost: h\r\n\r\n")
                #expect(r.status == 200)
                #expect(r.body.utf8.count == n && r.body.hasSuffix("!"))
                #expect(r.header("Content-Length") == String(n))
            }
        }
    }

    /// Repeated identical Content-Length values from an upstream reach the client as one value.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func repeatedContentLengthOfAResponseIsCollapsed(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { r in
            r.requestLine.contains("/lines")
                ? .bytes(Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc".utf8))
                : .bytes(Array("HTTP/1.1 200 OK\r\nContent-Length: 3 , 3\r\n\r\nabc".utf8))
        }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port)) { port in
            for path in ["/lines", "/list"] {
                let r = try RawClient(port: port).request("GET \(path) HTTP/1.1\r\nHost: h\r\n\r\n")
                #expect(r.status == 200)
                #expect(r.body == "abc")
                #expect(r.headers.filter { $0.0.lowercased() == "content-length" }.map(\.1) == ["3"])
            }
        }
    }

    /// Regression: the upstream read timeout counted from the connect, so an upload slower than
    /// the read timeout was answered 504 while the upstream was still waiting for the body.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func aSlowUploadIsNotMistakenForUpstreamSilence(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { r in .ok("got \(r.body.count)") }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port, readTimeout: .milliseconds(300))) { port in
            let c = try RawClient(port: port)
            c.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\n")
            // The pacing is the scenario (a client slower than the read timeout), not a wait for
            // the proxy: six bytes over about a second.
            for _ in 0..<6 {
                usleep(180_000)
                c.send("x")
            }
            let r = try c.readResponse()
            #expect(r.status == 200)
            #expect(r.body == "got 6")
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func staleKeepAliveIsReplayedOnce(_ path: ServerSnapshot.DataPath) async throws {
        // The upstream answers, then closes the kept-alive connection behind Sentinel's back.
        let upstream = try await ScriptedUpstream { r in .bytesThenClose(Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)) }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            #expect(try c.request("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n").status == 200)
            #expect(try c.request("GET /2 HTTP/1.1\r\nHost: h\r\n\r\n").status == 200)
            #expect(try c.request("GET /3 HTTP/1.1\r\nHost: h\r\n\r\n").status == 200)
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func chunkedResponsesAndHTTP10Clients(_ path: ServerSnapshot.DataPath) async throws {
        let chunkedBody = "4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n"
        let upstream = try await ScriptedUpstream { _ in
            .bytes(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(chunkedBody)".utf8))
        }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            let raw = try c.readRaw(until: "0\r\n\r\n")
            #expect(raw.contains("Transfer-Encoding: chunked\r\n"))
            #expect(raw.hasSuffix("\r\n\r\n" + chunkedBody))
            let old = try RawClient(port: port)
            old.send("GET / HTTP/1.0\r\n\r\n")
            let text = old.readAll()
            #expect(text.hasPrefix("HTTP/1.1 200"))
            #expect(!text.contains("Transfer-Encoding"))
            #expect(text.hasSuffix("\r\n\r\nabcdefg"))
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func expectContinueIsAnsweredAndTheBodyForwarded(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { r in .ok("len \(r.body.count)") }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            c.send("PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            #expect(try c.readResponse(head: true).status == 100)
            c.send("12345")
            #expect(try c.readResponse().body == "len 5")
            #expect(upstream.requests.first?.header("expect").isEmpty == true)
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func bodyLimitOfTheRoute(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("no") }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port, maxBody: 10)) { port in
            let r = try RawClient(port: port).request("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n01234567890")
            #expect(r.status == 413)
            #expect(upstream.requests.isEmpty)
        }
    }

    @Test func webSocketUpgradeIsGatedAndTunnelled() async throws {
        // Inside the tunnel the scripted upstream still splits what it receives at blank lines:
        // "requests" sent through the tunnel get raw, non-HTTP replies, which only a tunnel
        // (not the HTTP proxy path) delivers to the client unchanged.
        let upstream = try await ScriptedUpstream { r in
            if r.requestLine.hasPrefix("INSIDE") { return .bytes(Array("inside-reply".utf8)) }
            if r.requestLine.hasPrefix("EARLY") { return .bytes(Array("early-reply".utf8)) }
            return .bytes(Array("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nserver-hello".utf8))
        }
        defer { Task { await upstream.shutdown() } }
        let upgrade = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n"
        try await Self.withProxy(try Self.snapshot(upstreamPort: upstream.port, websocket: false)) { port in
            let refused = try RawClient(port: port).request(upgrade)
            #expect(refused.status == 403)
            #expect(upstream.requests.isEmpty)
        }
        try await Self.withProxy(try Self.snapshot(upstreamPort: upstream.port, websocket: true)) { port in
            let c = try RawClient(port: port)
            c.send(upgrade)
            let head = try c.readResponse(head: true)
            #expect(head.status == 101)
            #expect(head.header("Upgrade") == "websocket")
            #expect(try c.readRaw(until: "server-hello").hasSuffix("server-hello"))
            #expect(upstream.requests.first?.header("upgrade") == ["websocket"])
            // Regression: the tunnel outlives the 101 (it used to be torn down right after it, and
            // the client's next bytes were parsed as a new HTTP request).
            c.send("INSIDE x\r\n\r\n")
            #expect(try c.readRaw(until: "inside-reply").hasSuffix("inside-reply"))
        }
        // Bytes the client sends right behind the handshake, before the 101, go through the tunnel.
        try await Self.withProxy(try Self.snapshot(upstreamPort: upstream.port, websocket: true)) { port in
            let c = try RawClient(port: port)
            c.send(upgrade + "EARLY x\r\n\r\n")
            #expect(try c.readRaw(until: "early-reply").hasSuffix("early-reply"))
        }
    }

    /// Only WebSocket is tunnelled: an h2c upgrade (a classic way to smuggle HTTP/2 requests past
    /// a proxy's routing) is refused even on a WebSocket route, and an upstream that switches to
    /// another protocol than the one asked for never gets a tunnel.
    @Test func onlyWebSocketUpgradesAreTunnelled() async throws {
        let upstream = try await ScriptedUpstream { _ in
            .bytes(Array("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n".utf8))
        }
        defer { Task { await upstream.shutdown() } }
        try await Self.withProxy(try Self.snapshot(upstreamPort: upstream.port, websocket: true)) { port in
            let h2c = try RawClient(port: port).request(
                "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
            #expect(h2c.status == 403)
            #expect(upstream.requests.isEmpty)
            // A WebSocket request answered with a switch to h2c: 502, no tunnel.
            let c = try RawClient(port: port)
            let r = try c.request(
                "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n")
            #expect(r.status == 502)
            #expect(upstream.requests.count == 1)
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func routeHeaderPoliciesRenameSetAddRemove(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in
            .ok("x", headers: [("Server", "app/1.0"), ("X-Powered-By", "php"), ("Cache-Control", "private")])
        }
        defer { Task { await upstream.shutdown() } }
        let request = HeaderEdits(
            rename: [("X-Old", "X-New")], set: [("X-Served-By", "sentinel"), ("User-Agent", "proxy")],
            add: [("Via", "1.1 sentinel")], remove: ["X-Debug", "X-Forwarded-Host"])
        let response = HeaderEdits(
            rename: [], set: [("Cache-Control", "no-store")], add: [("X-Frame-Options", "DENY")],
            remove: ["Server", "X-Powered-By"])
        try await Self.withProxy(
            path: path,
            try Self.snapshot(upstreamPort: upstream.port, requestHeaders: request, responseHeaders: response)
        ) { port in
            let r = try RawClient(port: port).request(
                "GET / HTTP/1.1\r\nHost: h\r\nX-Old: 1\r\nX-Debug: yes\r\nUser-Agent: curl\r\nX-Served-By: fake\r\n\r\n")
            #expect(r.header("Server") == nil)
            #expect(r.header("X-Powered-By") == nil)
            #expect(r.header("Cache-Control") == "no-store")
            #expect(r.header("X-Frame-Options") == "DENY")
            let seen = try #require(upstream.requests.first)
            #expect(seen.header("x-old").isEmpty)
            #expect(seen.header("x-new") == ["1"])
            #expect(seen.header("x-debug").isEmpty)
            #expect(seen.header("user-agent") == ["proxy"])
            #expect(seen.header("x-served-by") == ["sentinel"])
            #expect(seen.header("via") == ["1.1 sentinel"])
            #expect(seen.header("x-forwarded-host").isEmpty)
            #expect(seen.header("x-forwarded-for") == ["127.0.0.1"])
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func accessLogJSONAndCombined(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("hello") }
        defer { Task { await upstream.shutdown() } }
        let dir = "/tmp/sentinel-accesslog-\(UInt64.random(in: 0...UInt64.max))"
        mkdir(dir, 0o700)
        defer { unlink(dir + "/a.log"); unlink(dir + "/b.log"); rmdir(dir) }
        for (file, format) in [("a.log", AccessLogSettings.Format.json), ("b.log", .combined)] {
            let settings = AccessLogSettings(path: dir + "/" + file, format: format)
            try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: upstream.port, accessLog: settings)) { port in
                let c = try RawClient(port: port)
                _ = try c.request("GET /x?q=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: te\"st\r\nReferer: r\r\n\r\n")
                _ = try c.request("GET /health HTTP/1.1\r\nHost: h\r\n\r\n")
            }
        }
        let json = try #require(readFile(dir + "/a.log")).split(separator: "\n")
        #expect(json.count == 2)
        #expect(json[0].hasPrefix("{\"timestamp\":\""))
        #expect(json[0].contains("\"method\":\"GET\",\"path\":\"/x\",\"query\":\"q=1\""))
        #expect(json[0].contains("\"status\":200,\"body_bytes\":5"))
        #expect(json[0].contains("\"user_agent\":\"te\\\"st\""))
        #expect(json[0].contains("\"route_id\":\"app\",\"upstream\":\"app\""))
        #expect(json[1].contains("\"route_id\":\"health\""))
        let combined = try #require(readFile(dir + "/b.log")).split(separator: "\n")
        #expect(combined.count == 2)
        #expect(combined[0].hasPrefix("127.0.0.1 - - ["))
        #expect(combined[0].contains("] \"GET /x?q=1 HTTP/1.1\" 200 5 \"r\" \"te\\x22st\" "))
    }
}

extension ProxyTests {
    @Test func metricsListenerServesOnlyMetrics() async throws {
        var snapshot = try Self.snapshot(upstreamPort: 1)
        snapshot.listeners.append(.init(id: "_metrics", port: 0, metricsPath: "/metrics"))
        let server = ProxyServer(eventLoopCount: 1)
        let bound = try await server.start(snapshot: snapshot)
        let metricsPort = try #require(bound.first { $0.id == "_metrics" }).port
        let main = try RawClient(port: bound[0].port)
        #expect(try main.request("GET /health HTTP/1.1\r\nHost: h\r\n\r\n").status == 200)
        let m = try RawClient(port: metricsPort)
        let scrape = try m.request("GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(scrape.status == 200)
        #expect(scrape.body.contains("sentinel_requests_total{route=\"health\",method=\"GET\",status=\"200\"} 1"))
        #expect(try m.request("GET /health HTTP/1.1\r\nHost: h\r\n\r\n").status == 404)
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
    }
}

extension ProxyTests {
    @Test(arguments: ServerSnapshot.DataPath.allCases) func aDeadTargetIsSkippedWithoutClientErrors(_ path: ServerSnapshot.DataPath) async throws {
        let alive = try await ScriptedUpstream { _ in .ok("alive") }
        defer { Task { await alive.shutdown() } }
        let dead = try await ScriptedUpstream { _ in .close }
        let deadPort = dead.port
        await dead.shutdown()
        try await Self.withProxy(path: path, try Self.snapshot(upstreamPort: deadPort, extraTargets: [alive.port])) { port in
            let c = try RawClient(port: port)
            for i in 0..<6 {
                let r = try c.request("GET /\(i) HTTP/1.1\r\nHost: h\r\n\r\n")
                #expect(r.status == 200)
                #expect(r.body == "alive")
            }
            // A POST that never reached the dead target is safe to send elsewhere too.
            #expect(try c.request("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi").status == 200)
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func retryPolicyReplaysIdempotentRequestsOnRetryableStatus(_ path: ServerSnapshot.DataPath) async throws {
        let failing = try await ScriptedUpstream { _ in .ok("down", status: 503) }
        defer { Task { await failing.shutdown() } }
        let healthy = try await ScriptedUpstream { _ in .ok("up") }
        defer { Task { await healthy.shutdown() } }
        let rules = RetryRules(maxAttempts: 2, backoffBase: .zero, backoffMax: .zero, retryableStatuses: [503])
        try await Self.withProxy(
            path: path,
            try Self.snapshot(upstreamPort: failing.port, extraTargets: [healthy.port], retry: rules)
        ) { port in
            let c = try RawClient(port: port)
            for _ in 0..<4 {
                #expect(try c.request("GET / HTTP/1.1\r\nHost: h\r\n\r\n").body == "up")
            }
            // Not idempotent: the upstream's 503 is passed through, never replayed.
            let post = try c.request("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
            #expect(post.status == 503 || post.body == "up")
        }
        #expect(failing.requests.filter { $0.requestLine.hasPrefix("POST") }.count <= 1)
    }
}

func readFile(_ path: String) -> String? {
    guard let f = fopen(path, "r") else { return nil }
    defer { fclose(f) }
    var out = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}
