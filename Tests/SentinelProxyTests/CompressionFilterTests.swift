import Foundation
import SentinelCompression
import SentinelConfig
import SentinelRuntime
import SentinelTestSupport
import Testing

@testable import SentinelProxy

/// The `compress` filter from configuration text to the wire: real upstream, real client, and
/// the compressed bodies decoded by the system's `gzip -d` (gzip) or zlib (deflate).
@Suite(.serialized) struct CompressionFilterTests {
    static let filters = #"""
        filter "gz" { type "compress"; algorithms "gzip,deflate"; min-size 1024; level 6; content-types "text/html" "text/plain" "application/json" }
        """#
    static let routes = #"route "r" { matches { path-prefix "/" }; upstream "app"; filters "gz" }"#

    /// A text body of `n` bytes that compresses well but not trivially.
    static func text(_ n: Int) -> String {
        var s = ""
        var i = 0
        while s.utf8.count < n {
            s += "line \(i) of the sentinel compression test body \(i * 7919 % 1000)\n"
            i += 1
        }
        return String(s.utf8.prefix(n))!
    }

    /// `gzip -dc` over `bytes` (the system's gzip, independent of Sentinel's zlib use).
    static func gunzip(_ bytes: [UInt8]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sentinel-gz-\(UUID().uuidString).gz")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let r = try runProcess("/usr/bin/gzip", ["-dc", url.path])
        #expect(r.status == 0, "gzip -d: \(r.stderr)")
        return r.stdout
    }

    /// Serves the `compress` route on data path `path` in front of an upstream answering `respond`.
    static func serve(
        _ path: ServerSnapshot.DataPath, _ respond: @escaping @Sendable (ScriptedUpstream.Request) -> ScriptedUpstream.Reply,
        metrics: MetricsRegistry = .init(), _ body: (Int) async throws -> Void
    ) async throws {
        let upstream = try await ScriptedUpstream(respond: respond)
        defer { Task { await upstream.shutdown() } }
        var snapshot = try ServerSnapshot.fromConfig("""
            system { worker-threads 1 }
            listeners { listener "http" { address "127.0.0.1:0" } }
            upstreams { upstream "app" { target "127.0.0.1:\(upstream.port)" } }
            filters { \(filters) }
            routes { \(routes) }
            """)
        snapshot.dataPath = path
        try await ProxyServer(eventLoopCount: 1, metrics: metrics).serving(snapshot, body)
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func gzipBodiesAroundChunkBoundariesDecodeToTheOriginal(_ path: ServerSnapshot.DataPath) async throws {
        let sizes = [1024, 16383, 16384, 16385, 32769, 65536, 200_000]
        let metrics = MetricsRegistry()
        try await Self.serve(path, { req in
            let n = Int(req.requestLine.split(separator: " ")[1].dropFirst()) ?? 0
            return .ok(Self.text(n), headers: [("Content-Type", "text/html; charset=utf-8"), ("ETag", "\"v1\""), ("Accept-Ranges", "bytes")])
        }, metrics: metrics) { port in
            // One connection for all: each compressed response must end exactly where it says.
            let c = try RawClient(port: port)
            for n in sizes {
                c.send("GET /\(n) HTTP/1.1\r\nHost: h\r\nAccept-Encoding: br;q=1, gzip;q=0.9, deflate;q=0.5\r\n\r\n")
                let r = try c.readResponse(head: true)
                #expect(r.status == 200)
                #expect(r.header("Content-Encoding") == "gzip")
                #expect(r.header("Transfer-Encoding") == "chunked")
                #expect(r.header("Content-Length") == nil)
                #expect(r.header("Accept-Ranges") == nil)
                #expect(r.header("ETag") == "W/\"v1\"")
                #expect(r.headers.contains { $0.0.lowercased() == "vary" && $0.1 == "Accept-Encoding" })
                let body = try c.readChunkedBody()
                #expect(body.count < n)
                #expect(try Self.gunzip(body) == Self.text(n), "size \(n)")
            }
        }
        let totals = metrics.compression.totals(.gzip)
        #expect(totals.responses == UInt64(sizes.count))
        #expect(totals.bytesIn == UInt64(sizes.reduce(0, +)))
        #expect(totals.bytesOut > 0 && totals.bytesOut < totals.bytesIn / 3)
        #expect(metrics.render(version: "t").contains(#"sentinel_compression_bytes_in_total{encoding="gzip"} \#(totals.bytesIn)"#))
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func aChunkedUpstreamBodyIsDeflatedWhenTheClientPrefersIt(_ path: ServerSnapshot.DataPath) async throws {
        let body = Self.text(70_000)
        // The upstream's own chunks, of odd sizes.
        var raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        var rest = Substring(body)
        while !rest.isEmpty {
            let piece = rest.prefix(12_345)
            raw += String(piece.utf8.count, radix: 16) + "\r\n" + piece + "\r\n"
            rest = rest.dropFirst(piece.count)
        }
        raw += "0\r\n\r\n"
        let reply = ScriptedUpstream.Reply.bytes(Array(raw.utf8))
        try await Self.serve(path, { _ in reply }) { port in
            let c = try RawClient(port: port)
            for _ in 0..<2 {
                c.send("GET /x HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip;q=0.2, deflate\r\n\r\n")
                let r = try c.readResponse(head: true)
                #expect(r.header("Content-Encoding") == "deflate")
                #expect(r.header("Transfer-Encoding") == "chunked")
                let compressed = try c.readChunkedBody()
                #expect(InflateGuard(maxRatio: 1000).inflate(compressed, coding: .deflate) == .inflated(Array(body.utf8)))
            }
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func anHTTP10ClientGetsTheCompressedBodyDelimitedByTheClose(_ path: ServerSnapshot.DataPath) async throws {
        let body = Self.text(50_000)
        try await Self.serve(path, { _ in .ok(body, headers: [("Content-Type", "text/plain")]) }) { port in
            let c = try RawClient(port: port)
            c.send("GET /x HTTP/1.0\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n")
            let r = try c.readResponse(head: true)
            #expect(r.header("Content-Encoding") == "gzip")
            #expect(r.header("Transfer-Encoding") == nil)
            #expect(r.header("Content-Length") == nil)
            #expect(try Self.gunzip(c.readAllBytes()) == body)
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func responsesTheClientDidNotAskCompressedOrThatMustNotBeArePassedAsTheyAre(_ path: ServerSnapshot.DataPath) async throws {
        let body = Self.text(5000)
        let metrics = MetricsRegistry()
        try await Self.serve(path, { req in
            if req.requestLine.hasPrefix("HEAD") {
                return .bytes(Array("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: \(body.utf8.count)\r\n\r\n".utf8))
            }
            switch req.requestLine.split(separator: " ")[1] {
            case "/encoded": return .ok(body, headers: [("Content-Type", "text/html"), ("Content-Encoding", "br")])
            case "/range":
                return .ok(String(body.prefix(100)), status: 206, headers: [("Content-Type", "text/html"), ("Content-Range", "bytes 0-99/5000")])
            case "/png": return .ok(body, headers: [("Content-Type", "image/png")])
            case "/small": return .ok("tiny", headers: [("Content-Type", "text/html")])
            case "/no-transform": return .ok(body, headers: [("Content-Type", "text/html"), ("Cache-Control", "public, no-transform")])
            default: return .ok(body, headers: [("Content-Type", "text/html"), ("ETag", "\"e\"")])
            }
        }, metrics: metrics) { port in
            let c = try RawClient(port: port)
            let cases: [(String, String, Int)] = [
                ("/plain", "", body.utf8.count),
                ("/plain", "Accept-Encoding: gzip;q=0, deflate;q=0\r\n", body.utf8.count),
                ("/plain", "Accept-Encoding: identity\r\n", body.utf8.count),
                ("/plain", "Accept-Encoding: *;q=0\r\n", body.utf8.count),
                ("/encoded", "Accept-Encoding: gzip\r\n", body.utf8.count),
                ("/range", "Accept-Encoding: gzip\r\nRange: bytes=0-99\r\n", 100),
                ("/png", "Accept-Encoding: gzip\r\n", body.utf8.count),
                ("/small", "Accept-Encoding: gzip\r\n", 4),
                ("/no-transform", "Accept-Encoding: gzip\r\n", body.utf8.count),
            ]
            for (path, fields, length) in cases {
                let r = try c.request("GET \(path) HTTP/1.1\r\nHost: h\r\n\(fields)\r\n")
                #expect(r.header("Content-Length") == String(length), "\(path) \(fields)")
                #expect(r.header("Content-Encoding") == (path == "/encoded" ? "br" : nil), "\(path) \(fields)")
                #expect(r.body.utf8.count == length)
                if path == "/plain" { #expect(r.header("ETag") == "\"e\"") }
            }
            // HEAD: the upstream's head, untouched (no body to compress, no length to drop).
            let h = try c.request("HEAD /plain HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n", head: true)
            #expect(h.status == 200)
            #expect(h.header("Content-Encoding") == nil)
            #expect(h.header("Content-Length") == String(body.utf8.count))
            // Still in step: the next response on the connection is whole.
            let after = try c.request("GET /plain HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(after.body == body)
        }
        let c = metrics.compression
        #expect(c.skips("not_accepted") == 5)
        #expect(c.skips("already_encoded") == 1)
        #expect(c.skips("range") == 1)
        #expect(c.skips("content_type") == 1)
        #expect(c.skips("too_small") == 1)
        #expect(c.skips("no_transform") == 1)
        #expect(c.skips("head") == 1)
        #expect(c.totals(.gzip).responses == 0)
    }

    @Test func brotliAndZstdAreRefusedAtLoad() throws {
        for names in ["gzip,br", "zstd"] {
            let text = """
                listeners { listener "http" { address "127.0.0.1:0" } }
                upstreams { upstream "app" { target "127.0.0.1:1" } }
                filters { filter "c" { type "compress"; algorithms "\(names)" } }
                routes { route "r" { matches { path-prefix "/" }; upstream "app"; filters "c" } }
                """
            #expect {
                _ = try ServerSnapshot.fromConfig(text)
            } throws: { error in
                "\(error)".contains("not supported yet") && "\(error)".contains("compress algorithms")
            }
        }
    }
}
