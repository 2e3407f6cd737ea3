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
    /// A connect failure's reason, with the target's address and the route, is in the request's
    /// access-log line, and the failure is counted by kind.
    @Test func aConnectFailureNamesItsTargetInTheAccessLog() async throws {
        let dead = try TargetMetricsTests.deadPort()
        let dir = "/tmp/sentinel-errorpath-\(UInt64.random(in: 0...UInt64.max))"
        mkdir(dir, 0o700)
        defer { unlink(dir + "/a.log"); rmdir(dir) }
        let settings = AccessLogSettings(path: dir + "/a.log", format: .json)
        let server = ProxyServer(eventLoopCount: 1)
        let port = try await server.start(snapshot: try ProxyTests.snapshot(upstreamPort: dead, accessLog: settings))[0].port
        let r = try RawClient(port: port).request("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
        let text = server.metrics.render(version: "t")
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
        #expect(r.status == 503)
        let log = try #require(readFile(dir + "/a.log")).split(separator: "\n")
        #expect(log.count == 1)
        let line = try #require(log.first)
        #expect(line.contains("\"status\":503"))
        #expect(
            line.contains("\"error\":\"connect to 127.0.0.1:\(dead) failed (refused), route \\\"app\\\"\""),
            "\(line)")
        #expect(text.contains("sentinel_upstream_failures_total{upstream=\"app\",reason=\"connect_failed\"} 1"), "\(text)")
    }

    /// A request Sentinel refuses itself (no route, a declared body over the limit) logs why.
    @Test func aLocalRefusalLogsItsReason() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("fine") }
        defer { Task { await upstream.shutdown() } }
        let dir = "/tmp/sentinel-errorpath-\(UInt64.random(in: 0...UInt64.max))"
        mkdir(dir, 0o700)
        defer { unlink(dir + "/a.log"); rmdir(dir) }
        let settings = AccessLogSettings(path: dir + "/a.log", format: .json)
        try await ProxyTests.withProxy(
            try ProxyTests.snapshot(upstreamPort: upstream.port, maxBody: 10, accessLog: settings)
        ) { port in
            let r = try RawClient(port: port).request("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n01234567890")
            #expect(r.status == 413)
            let dots = try RawClient(port: port).request("GET /a/../b HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(dots.status == 400)
        }
        let log = try #require(readFile(dir + "/a.log")).split(separator: "\n")
        #expect(log.count == 2)
        #expect(log.first?.contains("\"status\":413") == true)
        #expect(log.first?.contains("\"error\":\"client sent a request body over the limit, route \\\"app\\\"\"") == true, "\(log)")
        #expect(log.last?.contains("\"error\":\"the path has a dot segment, route \\\"app\\\"\"") == true, "\(log)")
    }

    /// A request that succeeds carries no `error` field.
    @Test func aServedRequestHasNoErrorField() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("fine") }
        defer { Task { await upstream.shutdown() } }
        let dir = "/tmp/sentinel-errorpath-\(UInt64.random(in: 0...UInt64.max))"
        mkdir(dir, 0o700)
        defer { unlink(dir + "/a.log"); rmdir(dir) }
        let settings = AccessLogSettings(path: dir + "/a.log", format: .json)
        try await ProxyTests.withProxy(try ProxyTests.snapshot(upstreamPort: upstream.port, accessLog: settings)) { port in
            let r = try RawClient(port: port).request("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(r.status == 200)
        }
        let line = try #require(readFile(dir + "/a.log"))
        #expect(line.contains("\"status\":200"))
        #expect(!line.contains("\"error\""))
    }

    /// An upstream silent past its read timeout: 504, and the log says which target and for how long.
    @Test func aResponseTimeoutNamesTargetAndDeadline() async throws {
        let hang = try await ScriptedUpstream { _ in .hang }
        defer { Task { await hang.shutdown() } }
        let dir = "/tmp/sentinel-errorpath-\(UInt64.random(in: 0...UInt64.max))"
        mkdir(dir, 0o700)
        defer { unlink(dir + "/a.log"); rmdir(dir) }
        let settings = AccessLogSettings(path: dir + "/a.log", format: .json)
        try await ProxyTests.withProxy(
            try ProxyTests.snapshot(upstreamPort: hang.port, readTimeout: .milliseconds(200), accessLog: settings)
        ) { port in
            let r = try RawClient(port: port).request("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(r.status == 504)
        }
        let line = try #require(readFile(dir + "/a.log"))
        #expect(line.contains("\"error\":\"127.0.0.1:\(hang.port) sent nothing for 200ms, route \\\"app\\\"\""), "\(line)")
    }
}
