#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SentinelPolicy
import SentinelTestSupport
import Synchronization
import Testing

@testable import SentinelProxy

/// HTTP correctness at the edge, end to end over real sockets: what the upstream receives and
/// what the client gets for the request shapes a held-back suite probes.
/// Tests that serve through the proxy run on both data paths (`system { data-path }`).
@Suite(.serialized) struct EdgeTests {
    /// Regression: upstream requests carried two `traceparent` fields (the client's, even an
    /// invalid one, plus Sentinel's). Now exactly one: a valid client context passes unchanged
    /// (with its `tracestate`); an invalid, duplicated or absent one is replaced by a new
    /// context, and a `tracestate` that belonged to it is dropped.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func exactlyOneTraceparentReachesTheUpstream(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("ok") }
        defer { Task { await upstream.shutdown() } }
        let valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        try await ProxyTests.withProxy(path: path, try ProxyTests.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            let cases = [
                "traceparent: \(valid)\r\ntracestate: vendor=1\r\n",
                "traceparent: 00-zzzz\r\ntracestate: vendor=1\r\n",
                "traceparent: \(valid)\r\ntraceparent: \(valid)\r\n",
                "tracestate: vendor=1\r\n",
                "",
            ]
            for fields in cases {
                #expect(try c.request("GET / HTTP/1.1\r\nHost: h\r\n\(fields)\r\n").status == 200)
            }
            let seen = upstream.requests
            #expect(seen.count == cases.count)
            for request in seen {
                #expect(request.header("traceparent").count == 1)
                #expect(RequestFacts.isValidTraceparent(request.header("traceparent").first ?? ""))
            }
            #expect(seen[0].header("traceparent") == [valid])
            #expect(seen[0].header("tracestate") == ["vendor=1"])
            #expect(seen[1].header("tracestate").isEmpty)
            #expect(seen[2].header("traceparent") != [valid])
            #expect(seen[3].header("tracestate").isEmpty)
        }
    }

    /// Regression: the request id went by three names (X-Trace-Id and X-Correlation-Id
    /// upstream, X-Correlation-Id on proxied responses, X-Request-Id and X-Correlation-Id on
    /// builtins). One name now, `X-Request-Id`, everywhere and in the access log's `trace_id`;
    /// any of the three is accepted from the client.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func oneRequestIDUnderOneName(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("ok", headers: [("X-Request-Id", "upstream-made")]) }
        defer { Task { await upstream.shutdown() } }
        let dir = "/tmp/sentinel-edge-\(UInt64.random(in: 0...UInt64.max))"
        mkdir(dir, 0o700)
        defer { unlink(dir + "/a.log"); rmdir(dir) }
        let settings = AccessLogSettings(path: dir + "/a.log", format: .json)
        try await ProxyTests.withProxy(path: path, try ProxyTests.snapshot(upstreamPort: upstream.port, accessLog: settings)) { port in
            let c = try RawClient(port: port)
            for (name, id) in [("X-Request-Id", "id-1"), ("X-Correlation-Id", "id-2"), ("X-Trace-Id", "id-3")] {
                let r = try c.request("GET /p HTTP/1.1\r\nHost: h\r\n\(name): \(id)\r\n\r\n")
                #expect(r.header("X-Request-Id") == id)
                #expect(r.header("X-Correlation-Id") == nil)
                let seen = try #require(upstream.requests.last)
                #expect(seen.header("x-request-id") == [id])
                #expect(seen.header("x-correlation-id").isEmpty)
                #expect(seen.header("x-trace-id").isEmpty)
            }
            // An unacceptable id (control bytes, too long) is replaced by a generated one.
            let r = try c.request("GET /p HTTP/1.1\r\nHost: h\r\nX-Request-Id: \(String(repeating: "x", count: 200))\r\n\r\n")
            let generated = try #require(r.header("X-Request-Id"))
            #expect(generated.count == 11)
            #expect(upstream.requests.last?.header("x-request-id") == [generated])
            let local = try c.request("GET /health HTTP/1.1\r\nHost: h\r\nX-Correlation-Id: id-4\r\n\r\n")
            #expect(local.header("X-Request-Id") == "id-4")
            #expect(local.header("X-Correlation-Id") == nil)
        }
        let log = try #require(readFile(dir + "/a.log")).split(separator: "\n")
        #expect(log.count == 5)
        for (line, id) in zip(log, ["id-1", "id-2", "id-3"]) { #expect(line.contains("\"trace_id\":\"\(id)\"")) }
        #expect(log[4].contains("\"trace_id\":\"id-4\""))
    }

    /// Regression: builtin replies and error answers had no `Date`. Every response Sentinel
    /// writes itself carries one, and so does a forwarded response whose upstream sent none.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func everyResponseHasADate(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { r in
            r.requestLine.hasPrefix("GET /dated")
                ? .ok("d", headers: [("Date", "Mon, 01 Jan 2024 00:00:00 GMT")]) : .ok("u")
        }
        defer { Task { await upstream.shutdown() } }
        try await ProxyTests.withProxy(path: path, try ProxyTests.snapshot(upstreamPort: upstream.port, maxBody: 4)) { port in
            let c = try RawClient(port: port)
            func isIMFDate(_ value: String?) -> Bool {
                guard let value, value.count == 29, value.hasSuffix(" GMT") else { return false }
                return ["Mon, ", "Tue, ", "Wed, ", "Thu, ", "Fri, ", "Sat, ", "Sun, "].contains(String(value.prefix(5)))
            }
            let builtin = try c.request("GET /health HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(isIMFDate(builtin.header("Date")))
            let proxied = try c.request("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(isIMFDate(proxied.header("Date")))
            #expect(proxied.header("Via") == "1.1 sentinel")
            let dated = try c.request("GET /dated HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(dated.headers.filter { $0.0.lowercased() == "date" }.map(\.1) == ["Mon, 01 Jan 2024 00:00:00 GMT"])
            let tooLarge = try RawClient(port: port).request("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789")
            #expect(tooLarge.status == 413)
            #expect(isIMFDate(tooLarge.header("Date")))
            let bad = try RawClient(port: port).request("GET /a/../b HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(bad.status == 400)
            #expect(isIMFDate(bad.header("Date")))
            let garbage = try RawClient(port: port).request("BAD\r\n\r\n")
            #expect(garbage.status == 400)
            #expect(isIMFDate(garbage.header("Date")))
        }
    }

    /// Regression: `CONNECT` was routed and answered 404 like a missing page. A reverse proxy
    /// opens no tunnels: 501 with the JSON error body, before routing, and the connection closes.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func connectIsRefusedBeforeRouting(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("should not be reached") }
        defer { Task { await upstream.shutdown() } }
        try await ProxyTests.withProxy(path: path, try ProxyTests.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            let r = try c.request("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
            #expect(r.status == 501)
            #expect(r.header("Content-Type") == "application/json")
            let id = try #require(r.header("X-Request-Id"))
            #expect(r.body == "{\"error\":\"501 Not Implemented\",\"trace_id\":\"\(id)\"}")
            #expect(r.header("Connection") == "close")
            #expect(c.isClosedByServer())
            #expect(upstream.requests.isEmpty)
        }
    }

    /// Regression: an HTTP/1.0 request without `Host` was forwarded as HTTP/1.1 without Host.
    /// The upstream now gets the address the client connected to as Host (RFC 9112 §3.3).
    @Test(arguments: ServerSnapshot.DataPath.allCases) func anHTTP10RequestWithoutHostIsForwardedWithOne(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("ok") }
        defer { Task { await upstream.shutdown() } }
        try await ProxyTests.withProxy(path: path, try ProxyTests.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            c.send("GET /old HTTP/1.0\r\n\r\n")
            #expect(c.readAll().hasPrefix("HTTP/1.1 200"))
            let seen = try #require(upstream.requests.first)
            #expect(seen.requestLine == "GET /old HTTP/1.1")
            #expect(seen.header("host") == ["127.0.0.1:\(port)"])
            #expect(seen.header("via") == ["1.0 sentinel"])
            // HTTP/1.1 without Host never gets that far: the parser answers 400.
            let modern = try RawClient(port: port).request("GET /new HTTP/1.1\r\n\r\n")
            #expect(modern.status == 400)
            #expect(upstream.requests.count == 1)
        }
    }

    /// A trusted proxy's forwarding fields are kept and extended; anyone else's are replaced.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func forwardedFromATrustedPeerIsExtended(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("ok") }
        defer { Task { await upstream.shutdown() } }
        let claim = "GET / HTTP/1.1\r\nHost: h\r\nForwarded: for=203.0.113.5\r\nX-Forwarded-For: 203.0.113.5\r\n\r\n"
        var untrusted = try ProxyTests.snapshot(upstreamPort: upstream.port)
        untrusted.forwarding = ForwardingPolicy(trustedProxies: [.init(address: [10, 0, 0, 0], prefixLength: 8)])
        try await ProxyTests.withProxy(path: path, untrusted) { port in
            let status = try RawClient(port: port).request(claim).status
            #expect(status == 200)
        }
        var trusted = try ProxyTests.snapshot(upstreamPort: upstream.port)
        trusted.forwarding = ForwardingPolicy(via: "edge-1", trustedProxies: [.init(address: [127, 0, 0, 0], prefixLength: 8)])
        try await ProxyTests.withProxy(path: path, trusted) { port in
            let status = try RawClient(port: port).request(claim).status
            #expect(status == 200)
        }
        let seen = upstream.requests
        #expect(seen.count == 2)
        #expect(seen[0].header("forwarded") == ["for=127.0.0.1;proto=http;host=\"h\""])
        #expect(seen[0].header("x-forwarded-for") == ["127.0.0.1"])
        #expect(seen[1].header("forwarded") == ["for=203.0.113.5, for=127.0.0.1;proto=http;host=\"h\""])
        #expect(seen[1].header("x-forwarded-for") == ["203.0.113.5, 127.0.0.1"])
        #expect(seen[1].header("via") == ["1.1 edge-1"])
    }

    /// An upstream that reads until Sentinel closes the connection and reports how many bytes it
    /// got (the close is the event the test waits for).
    final class DrainingUpstream: Sendable {
        let listener: LoopbackListener
        let closed = DispatchSemaphore(value: 0)
        let received = Mutex<Int>(0)

        init() throws {
            listener = try LoopbackListener()
            listener.start { [self] fd in
                defer { close(fd) }
                var chunk = [UInt8](repeating: 0, count: 4096)
                while true {
                    let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if n <= 0 { break }
                    received.withLock { $0 += n }
                }
                closed.signal()
            }
        }
    }

    /// Sends one byte of `fd` every `interval` until the peer is gone (the pacing is the load
    /// shape under test, not a synchronisation).
    static func trickle(_ fd: Int32, interval: useconds_t) {
        Thread {
            var byte: UInt8 = 0x61
            while send(fd, &byte, 1, Int32(MSG_NOSIGNAL)) == 1 { usleep(interval) }
        }.start()
    }

    /// Regression: a request body trickled at one byte at a time was never cut (each byte
    /// re-armed the silence timeout). Below the listener's minimum body rate, after its grace,
    /// the client gets a JSON 408 and the connection closes; the upstream connection, which
    /// holds part of a request, is closed too (never pooled).
    @Test(arguments: ServerSnapshot.DataPath.allCases) func aTrickledBodyIsCutAt408(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try DrainingUpstream()
        var snapshot = try ProxyTests.snapshot(upstreamPort: upstream.listener.port)
        snapshot.listeners[0].bodyMinRate = 1000
        snapshot.listeners[0].bodyRateGrace = .milliseconds(300)
        try await ProxyTests.withProxy(path: path, snapshot) { port in
            let c = try RawClient(port: port)
            c.send("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n")
            Self.trickle(c.fd, interval: 50_000)  // 20 bytes per second
            let r = try c.readResponse()
            #expect(r.status == 408)
            #expect(r.header("Content-Type") == "application/json")
            #expect(r.body.hasPrefix("{\"error\":\"408 Request Timeout\""))
            #expect(r.header("Connection") == "close")
            #expect(c.isClosedByServer())
            #expect(upstream.closed.wait(timeout: .now() + 10) == .success)
            // The upstream saw the head and some body bytes, never the whole body.
            #expect(upstream.received.withLock { $0 } < 1000)
        }
    }

    /// With no minimum rate, a client that stops sending its body is still cut by the
    /// whole-request timeout, and it is answered 408 (the client's fault), not 504 (which
    /// blamed the upstream and counted a failure against its target).
    @Test(arguments: ServerSnapshot.DataPath.allCases) func aStalledBodyAtTheRequestTimeoutIsTheClients408(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try DrainingUpstream()
        var snapshot = try ProxyTests.snapshot(upstreamPort: upstream.listener.port)
        snapshot.listeners[0].bodyMinRate = 0
        snapshot.upstreams[0].requestTimeout = .milliseconds(400)
        try await ProxyTests.withProxy(path: path, snapshot) { port in
            let c = try RawClient(port: port)
            c.send("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
            let r = try c.readResponse()
            #expect(r.status == 408)
            #expect(c.isClosedByServer())
            #expect(upstream.closed.wait(timeout: .now() + 10) == .success)
        }
    }
}

/// Methods and hop rules an intermediary owes regardless of routes.
@Suite(.serialized) struct EdgeMethodTests {
    /// TRACE would reflect the client's credentials and every field Sentinel adds: refused like
    /// CONNECT (501, JSON), but the connection stays usable (no tunnel bytes can follow).
    @Test(arguments: ServerSnapshot.DataPath.allCases) func traceIsRefusedAndTheConnectionContinues(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("reached") }
        defer { Task { await upstream.shutdown() } }
        try await ProxyTests.withProxy(path: path, try ProxyTests.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            let r = try c.request("TRACE / HTTP/1.1\r\nHost: h\r\nCookie: secret\r\n\r\n")
            #expect(r.status == 501)
            #expect(!r.body.contains("secret"))
            #expect(try c.request("GET / HTTP/1.1\r\nHost: h\r\n\r\n").body == "reached")
            #expect(upstream.requests.count == 1)
        }
    }

    /// RFC 9110 §7.6.2: OPTIONS with `Max-Forwards: 0` is answered by the intermediary itself;
    /// a larger value is decremented on the way upstream.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func maxForwardsOfOptions(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("upstream") }
        defer { Task { await upstream.shutdown() } }
        try await ProxyTests.withProxy(path: path, try ProxyTests.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            let mine = try c.request("OPTIONS * HTTP/1.1\r\nHost: h\r\nMax-Forwards: 0\r\n\r\n")
            #expect(mine.status == 200)
            #expect(mine.header("Content-Length") == "0")
            #expect(upstream.requests.isEmpty)
            #expect(try c.request("OPTIONS /x HTTP/1.1\r\nHost: h\r\nMax-Forwards: 5\r\n\r\n").body == "upstream")
            #expect(upstream.requests.last?.header("max-forwards") == ["4"])
            // Other methods leave it alone.
            #expect(try c.request("GET /x HTTP/1.1\r\nHost: h\r\nMax-Forwards: 0\r\n\r\n").body == "upstream")
            #expect(upstream.requests.last?.header("max-forwards") == ["0"])
        }
    }

    /// An HTTP/1.0 client that asked for keep-alive learns it was granted from
    /// `Connection: keep-alive`, on local replies as on proxied ones.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func http10KeepAliveOnLocalReplies(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("u") }
        defer { Task { await upstream.shutdown() } }
        try await ProxyTests.withProxy(path: path, try ProxyTests.snapshot(upstreamPort: upstream.port)) { port in
            let c = try RawClient(port: port)
            let first = try c.request("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(first.status == 200)
            #expect(first.header("Connection") == "keep-alive")
            let second = try c.request("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(second.body == "u")
            #expect(second.header("Connection") == "keep-alive")
        }
    }
}

extension EdgeMethodTests {
    /// Interim responses (103 Early Hints) are forwarded to HTTP/1.1 clients only: an HTTP/1.0
    /// client cannot tell them from the final response (RFC 9110 §15.2).
    @Test(arguments: ServerSnapshot.DataPath.allCases) func interimResponsesNeverReachHTTP10Clients(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in
            .bytes(Array("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8))
        }
        defer { Task { await upstream.shutdown() } }
        try await ProxyTests.withProxy(path: path, try ProxyTests.snapshot(upstreamPort: upstream.port)) { port in
            let modern = try RawClient(port: port)
            modern.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(try modern.readResponse(head: true).status == 103)
            #expect(try modern.readResponse().body == "ok")
            let old = try RawClient(port: port)
            old.send("GET / HTTP/1.0\r\nHost: h\r\n\r\n")
            let text = old.readAll()
            #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(text)")
            #expect(!text.contains("103"))
        }
    }
}

extension EdgeTests {
    /// The same minimum rate holds for the body of a request Sentinel answers itself (read and
    /// discarded): cut at 408 after the grace, not only at the listener's request timeout.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func aTrickledBodyOfALocallyAnsweredRequestIsCut(_ path: ServerSnapshot.DataPath) async throws {
        var snapshot = try ProxyTests.snapshot(upstreamPort: 9)
        snapshot.listeners[0].bodyMinRate = 1000
        snapshot.listeners[0].bodyRateGrace = .milliseconds(300)
        snapshot.listeners[0].requestTimeout = .seconds(30)
        try await ProxyTests.withProxy(path: path, snapshot) { port in
            let c = try RawClient(port: port)
            let started = ContinuousClock.now
            c.send("POST /health HTTP/1.1\r\nHost: h\r\nX-Request-Id: slow-1\r\nContent-Length: 1000\r\n\r\n")
            Self.trickle(c.fd, interval: 50_000)
            let r = try c.readResponse()
            #expect(r.status == 408)
            #expect(r.header("X-Request-Id") == "slow-1")
            #expect(c.isClosedByServer())
            // Well before the 30 s request timeout (the readResponse timeout is 10 s anyway).
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }
}
