import Foundation
import SentinelConfig
import SentinelRuntime
import SentinelTestSupport
import Testing

@testable import SentinelProxy

/// A route's `policies { max-body-size }` from configuration to the wire: a declared length over
/// it is refused before any body byte is read, a chunked body when it crosses it; both with the
/// 413 JSON error; another route keeps the global limit.
@Suite(.serialized) struct BodyLimitPolicyTests {
    static func serve(_ path: ServerSnapshot.DataPath, upstreamPort: Int, _ body: (Int) async throws -> Void) async throws {
        var snapshot = try ServerSnapshot.fromConfig("""
            system { worker-threads 1 }
            listeners { listener "http" { address "127.0.0.1:0" } }
            limits { max-body-size-bytes 100000 }
            upstreams { upstream "app" { target "127.0.0.1:\(upstreamPort)" } }
            routes {
                route "small" { matches { path-prefix "/small" }; upstream "app"; policies { max-body-size 1024 } }
                route "other" { matches { path-prefix "/" }; upstream "app" }
            }
            """)
        snapshot.dataPath = path
        try await ProxyServer(eventLoopCount: 1).serving(snapshot, body)
    }

    static func chunked(_ n: Int, piece: Int = 300) -> String {
        var out = ""
        var left = n
        while left > 0 {
            let k = min(piece, left)
            out += String(k, radix: 16) + "\r\n" + String(repeating: "a", count: k) + "\r\n"
            left -= k
        }
        return out + "0\r\n\r\n"
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func theRoutesLimitHoldsForBothFramings(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { req in .ok("got \(req.body.count)") }
        defer { Task { await upstream.shutdown() } }
        try await Self.serve(path, upstreamPort: upstream.port) { port in
            // At the limit: forwarded whole, either framing.
            let exact = try RawClient(port: port).request(
                "POST /small HTTP/1.1\r\nHost: h\r\nContent-Length: 1024\r\n\r\n" + String(repeating: "a", count: 1024))
            #expect(exact.status == 200)
            #expect(exact.body == "got 1024")
            let exactChunked = try RawClient(port: port).request(
                "POST /small HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + Self.chunked(1024))
            #expect(exactChunked.status == 200)

            // A declared length over it: 413 before the body, nothing reaches the upstream.
            let before = upstream.requests.count
            let declared = try RawClient(port: port).request(
                "POST /small HTTP/1.1\r\nHost: h\r\nContent-Length: 1025\r\n\r\n" + String(repeating: "a", count: 1025))
            #expect(declared.status == 413)
            #expect(declared.header("Content-Type")?.hasPrefix("application/json") == true)
            #expect(declared.body.contains("\"status\":413") || declared.body.contains("413"))
            #expect(upstream.requests.count == before)

            // A chunked body that crosses it: 413 JSON (no response byte had gone out).
            let crossing = try RawClient(port: port).request(
                "POST /small HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + Self.chunked(1025))
            #expect(crossing.status == 413)
            #expect(crossing.header("Content-Type")?.hasPrefix("application/json") == true)

            // Another route keeps the global limit.
            let other = try RawClient(port: port).request(
                "POST /other HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + Self.chunked(5000))
            #expect(other.status == 200)
            // (The upstream records the body as framed: chunked, as the client sent it.)
            #expect(other.body == "got \(Self.chunked(5000).utf8.count)")
        }
    }
}
