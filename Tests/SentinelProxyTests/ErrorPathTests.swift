#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SentinelPolicy
import SentinelTestSupport
import Testing

@testable import SentinelProxy

/// The one way out of a failed exchange, end to end: the reason reaches the access log and the
/// failure counters.
@Suite(.serialized) struct ErrorPathTests {
    /// Runs `body` against a proxy that writes a JSON access log, and returns the log's lines
    /// (read after the proxy shut down, so every line is flushed).
    static func loggedLines(
        _ snapshot: (AccessLogSettings) throws -> ServerSnapshot, _ body: (ProxyServer, Int) async throws -> Void
    ) async throws -> [String] {
        let dir = "/tmp/sentinel-errorpath-\(UInt64.random(in: 0...UInt64.max))"
        mkdir(dir, 0o700)
        defer { unlink(dir + "/a.log"); rmdir(dir) }
        try await withProxy(try snapshot(AccessLogSettings(path: dir + "/a.log", format: .json)), body)
        return (readFile(dir + "/a.log") ?? "").split(separator: "\n").map(String.init)
    }

    /// A connect failure's reason, with the target's address and the route, is in the request's
    /// access-log line, and the failure is counted by kind.
    @Test func aConnectFailureNamesItsTargetInTheAccessLog() async throws {
        let dead = try TargetMetricsTests.deadPort()
        let log = try await Self.loggedLines({ try ProxyTests.snapshot(upstreamPort: dead, accessLog: $0) }) { server, port in
            let r = try RawClient(port: port).request("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(r.status == 503)
            let text = server.metrics.render(version: "t")
            #expect(text.contains("sentinel_upstream_failures_total{upstream=\"app\",reason=\"connect_failed\"} 1"), "\(text)")
        }
        #expect(log.count == 1)
        let line = try #require(log.first)
        #expect(line.contains("\"status\":503"))
        #expect(line.contains("\"error\":\"connect to 127.0.0.1:\(dead) failed (refused), route \\\"app\\\"\""), "\(line)")
    }

    /// A request Sentinel refuses itself (a declared body over the limit, a dot segment) logs why.
    @Test func aLocalRefusalLogsItsReason() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("fine") }
        defer { Task { await upstream.shutdown() } }
        let log = try await Self.loggedLines({ try ProxyTests.snapshot(upstreamPort: upstream.port, maxBody: 10, accessLog: $0) }) { _, port in
            let r = try RawClient(port: port).request("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n01234567890")
            #expect(r.status == 413)
            let dots = try RawClient(port: port).request("GET /a/../b HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(dots.status == 400)
        }
        #expect(log.count == 2)
        #expect(log.first?.contains("\"status\":413") == true)
        #expect(log.first?.contains("\"error\":\"client sent a request body over the limit, route \\\"app\\\"\"") == true, "\(log)")
        #expect(log.last?.contains("\"error\":\"the path has a dot segment, route \\\"app\\\"\"") == true, "\(log)")
    }

    /// A request that succeeds carries no `error` field.
    @Test func aServedRequestHasNoErrorField() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("fine") }
        defer { Task { await upstream.shutdown() } }
        let log = try await Self.loggedLines({ try ProxyTests.snapshot(upstreamPort: upstream.port, accessLog: $0) }) { _, port in
            let r = try RawClient(port: port).request("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(r.status == 200)
        }
        let line = try #require(log.first)
        #expect(line.contains("\"status\":200"))
        #expect(!line.contains("\"error\""))
    }

    /// An upstream silent past its read timeout: 504, and the log says which target and for how long.
    @Test func aResponseTimeoutNamesTargetAndDeadline() async throws {
        let hang = try await ScriptedUpstream { _ in .hang }
        defer { Task { await hang.shutdown() } }
        let log = try await Self.loggedLines({
            try ProxyTests.snapshot(upstreamPort: hang.port, readTimeout: .milliseconds(200), accessLog: $0)
        }) { _, port in
            let r = try RawClient(port: port).request("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(r.status == 504)
        }
        let line = try #require(log.first)
        #expect(line.contains("\"error\":\"127.0.0.1:\(hang.port) sent nothing for 200ms, route \\\"app\\\"\""), "\(line)")
    }

    /// An upstream that closes mid-body: the client's connection closes (the status already
    /// went out), and the one log line keeps that status with the reason; counted by kind.
    @Test func anUpstreamClosingMidResponseIsLoggedOnceWithItsReason() async throws {
        let upstream = try await ScriptedUpstream { _ in
            .bytesThenClose(Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8))
        }
        defer { Task { await upstream.shutdown() } }
        let log = try await Self.loggedLines({ try ProxyTests.snapshot(upstreamPort: upstream.port, accessLog: $0) }) { server, port in
            let c = try RawClient(port: port)
            c.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
            let got = c.readAll()
            #expect(got.hasPrefix("HTTP/1.1 200"))
            #expect(got.hasSuffix("abc"), "truncated, and closed")
            let text = server.metrics.render(version: "t")
            #expect(text.contains("sentinel_upstream_failures_total{upstream=\"app\",reason=\"closed_mid_response\"} 1"), "\(text)")
        }
        #expect(log.count == 1)
        #expect(log.first?.contains("\"status\":200") == true)
        #expect(
            log.first?.contains("\"error\":\"127.0.0.1:\(upstream.port) closed the connection in the middle of the response") == true,
            "\(log)")
    }

    /// A client that leaves mid-response ends its request once: one log line with the reason,
    /// and the active-requests gauge back at zero (not below).
    @Test func aClientLeavingMidResponseEndsTheRequestOnce() async throws {
        let upstream = try await ScriptedUpstream { _ in .bytes(Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8)) }
        defer { Task { await upstream.shutdown() } }
        var active = -1
        let log = try await Self.loggedLines({ try ProxyTests.snapshot(upstreamPort: upstream.port, accessLog: $0) }) { server, port in
            do {
                let c = try RawClient(port: port)
                c.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
                _ = try c.readRaw(until: "abc")
            }  // the client closes here, mid-body
            _ = await server.shutdown(gracefulTimeout: .seconds(5))
            active = server.metrics.activeRequests
        }
        #expect(active == 0)
        #expect(log.count == 1)
        #expect(log.first?.contains("\"status\":200") == true)
        #expect(log.first?.contains("\"error\":\"client closed the connection, route \\\"app\\\"\"") == true, "\(log)")
    }
}
