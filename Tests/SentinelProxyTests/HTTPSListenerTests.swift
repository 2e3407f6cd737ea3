import Foundation
import NIOCore
import NIOEmbedded
import SentinelConfig
import SentinelRuntime
import SentinelTLS
import SentinelTestSupport
import Synchronization
import Testing

@testable import SentinelProxy

/// HTTPS listeners end to end: configuration text → snapshot (certificates loaded once) →
/// `TLSServerHandler` in front of the HTTP/1 connection, checked with real `curl` and
/// `openssl s_client` over loopback.
@Suite(.serialized) struct HTTPSListenerTests {
    let fx = HTTPSFixtures.shared

    func config(
        upstreamPort: Int = 9, defaultCert: String = "default", key: String? = nil, extra: String = "", sni: Bool = true
    ) -> String {
        let sniBlocks = """
            sni { hostnames "a.test"; cert-file "\(fx.path("a.pem"))"; key-file "\(fx.path("a.key"))" }
            sni { hostnames "b.test"; cert-file "\(fx.path("b.pem"))"; key-file "\(fx.path("b.key"))" }
            """
        return TestConfigs.httpsListener(
            cert: fx.path(defaultCert + ".pem"), key: fx.path((key ?? defaultCert) + ".key"),
            tls: (sni ? sniBlocks : "") + "\n" + extra, listener: "request-timeout-secs 5")
            + """
        upstreams { upstream "up" { target "127.0.0.1:\(upstreamPort)" } }
        routes {
            route "h" { matches { path "/health" }; builtin-handler "health" }
            route "up" { matches { path "/up" }; upstream "up" }
        }
        """
    }

    static let process = ProcessIdentity(stickyKey: [1], proxyID: "t", zone: "z", ticketKeys: try! TicketKeyRing.random())

    /// The snapshot of `text`, served on `path` (every socket test runs on both data paths).
    func snapshot(_ text: String, _ path: ServerSnapshot.DataPath = .nio) throws -> ServerSnapshot {
        var s = try ServerSnapshot.fromConfig(text, process: Self.process)
        s.dataPath = path
        return s
    }

    func serve(_ text: String, _ path: ServerSnapshot.DataPath, _ body: (ProxyServer, Int) async throws -> Void) async throws {
        try await withProxy(try snapshot(text, path), body)
    }

    func curl(_ port: Int, host: String, path: String = "/health", _ extra: [String] = []) throws -> ProcessResult {
        try runProcess("/usr/bin/curl", [
            "-sS", "--max-time", "10", "--cacert", fx.path("root.pem"), "--resolve", "\(host):\(port):127.0.0.1",
            "https://\(host):\(port)\(path)",
        ] + extra)
    }

    /// `openssl s_client` sending one `Connection: close` request, so it reads to the server's close.
    func sClient(_ port: Int, _ args: [String]) throws -> ProcessResult {
        try runProcess(
            "/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-ign_eof", "-CAfile", fx.path("root.pem")] + args,
            input: "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func eachServerNameGetsItsCertificate(_ path: ServerSnapshot.DataPath) async throws {
        try await serve(config(), path) { _, port in
            for name in ["a.test", "b.test", "default.test"] {
                // curl verifies the chain and the name: success means this name's certificate.
                let r = try curl(port, host: name)
                #expect(r.status == 0, "\(name): \(r.stderr)")
                #expect(r.stdout.contains("healthy"), "\(name): \(r.stdout)")
            }
            let a = try sClient(port, ["-servername", "a.test"])
            #expect(a.stdout.contains("subject=CN = a.test"), "\(a.stdout)")
            // No SNI: the default certificate.
            let none = try sClient(port, ["-noservername"])
            #expect(none.stdout.contains("subject=CN = default.test"), "\(none.stdout)")
            #expect(none.stdout.contains("HTTP/1.1 200"), "\(none.stdout)")
        }
    }

    @Test(arguments: ["-tls1", "-tls1_1"], ServerSnapshot.DataPath.allCases)
    func legacyVersionsAreRefused(flag: String, path: ServerSnapshot.DataPath) async throws {
        try await serve(config(), path) { server, port in
            let old = try sClient(port, [flag, "-cipher", "DEFAULT@SECLEVEL=0", "-servername", "a.test"])
            #expect(old.status != 0)
            #expect(server.metrics.tls.count(listener: "tls", outcome: "protocol_version", failed: true) == 1)
            #expect(!old.stdout.contains("HTTP/1.1 200"))
            // The same command with TLS 1.2 succeeds (the refusal is the version's).
            let ok = try sClient(port, ["-tls1_2", "-cipher", "DEFAULT@SECLEVEL=0", "-servername", "a.test"])
            #expect(ok.stdout.contains("HTTP/1.1 200"), "\(ok.stdout)")
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func upstreamSeesHTTPSScheme(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("from upstream") }
        try await serve(config(upstreamPort: upstream.port), path) { _, port in
            let r = try curl(port, host: "a.test", path: "/up")
            #expect(r.stdout == "from upstream", "\(r.stderr)")
        }
        let request = try #require(upstream.requests.first)
        #expect(request.header("x-forwarded-proto") == ["https"])
        #expect(request.header("forwarded").first?.contains("proto=https") == true, "\(request.head)")
        await upstream.shutdown()
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func ticketResumesOnTheSameProcess(_ path: ServerSnapshot.DataPath) async throws {
        let session = fx.path("sess-\(UUID().uuidString).pem")
        try await serve(config(), path) { server, port in
            for version in ["-tls1_2", "-tls1_3"] {
                let first = try sClient(port, [version, "-servername", "a.test", "-sess_out", session])
                #expect(first.stdout.contains("New, TLSv1"), "\(version): \(first.stdout)")
                let second = try sClient(port, [version, "-servername", "a.test", "-sess_in", session])
                #expect(second.stdout.contains("Reused, TLSv1"), "\(version): \(second.stdout)")
                #expect(second.stdout.contains("HTTP/1.1 200"), "\(version)")
            }
            // Two full handshakes, two resumed ones.
            #expect(server.metrics.tls.count(listener: "tls", outcome: "resumed", failed: false) == 2)
            #expect(server.metrics.tls.count(listener: "tls", outcome: "full", failed: false) == 2)
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func badCertificateOnReloadIsRefusedAndTheOldOneKeepsServing(_ path: ServerSnapshot.DataPath) async throws {
        try await serve(config(), path) { server, port in
            // A key that is not the certificate's: the snapshot build fails with both files named.
            #expect {
                _ = try snapshot(config(key: "other"))
            } throws: { error in
                let text = "\(error)"
                return text.contains("listener \"tls\"") && text.contains("does not match") && text.contains("other.key")
            }
            // A file that does not exist.
            #expect {
                _ = try snapshot(config(defaultCert: "missing"))
            } throws: { "\($0)".contains("cannot be read") }
            let still = try sClient(port, ["-noservername"])
            #expect(still.stdout.contains("subject=CN = default.test"))
            // A good reload rotates the certificate for new connections.
            try server.reload(snapshot: try snapshot(config(defaultCert: "a2"), path))
            let rotated = try sClient(port, ["-noservername"])
            #expect(rotated.stdout.contains("subject=CN = a.test"), "\(rotated.stdout)")
            #expect(rotated.stdout.contains("HTTP/1.1 200"))
        }
    }

    /// The handler's own deadline (the HTTP handler is not in this pipeline): a client that
    /// starts no handshake is closed when the listener's request timeout passes.
    @Test func silentConnectionIsClosedAtTheHandshakeDeadline() throws {
        let tls = try #require(try snapshot(config()).listeners.first?.tls)
        let channel = EmbeddedChannel()
        let metrics = TLSMetrics()
        let handler = try TLSServerHandler(tls: tls, listenerID: "tls", metrics: metrics)
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(4_900))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!channel.isActive)
        #expect(handler.failure?.reason == .handshakeTimeout)
        #expect(metrics.count(listener: "tls", outcome: "timeout", failed: true) == 1)
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func plainHTTPOnTheTLSPortIsClosed(_ path: ServerSnapshot.DataPath) async throws {
        try await serve(config(), path) { server, port in
            let client = try RawClient(port: port)
            client.send("GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            let answer = client.readAll()
            #expect(!answer.contains("HTTP/1.1"))
            #expect(client.isClosedByServer())
            #expect(server.metrics.tls.count(listener: "tls", outcome: "plain_http", failed: true) == 1)
            #expect(server.metrics.render(version: "t").contains(#"sentinel_tls_handshake_failures_total{listener="tls",reason="plain_http"} 1"#))
        }
    }

    @Test func validateChecksListenerCertificates() throws {
        let now = Int64(Date().timeIntervalSince1970)
        let good = CertificateValidation.run(try ConfigLoader.load(text: config()).get().config, now: now)
        #expect(good.failures == 0, "\(good.lines)")
        #expect(good.lines.count == 3 && good.lines.allSatisfy { $0.hasPrefix("✓") }, "\(good.lines)")
        let mismatch = CertificateValidation.run(try ConfigLoader.load(text: config(key: "other")).get().config, now: now)
        #expect(mismatch.failures == 1, "\(mismatch.lines)")
        #expect(mismatch.lines.contains { $0.hasPrefix("✗ listener \"tls\" certificate") }, "\(mismatch.lines)")
        let soon = CertificateValidation.run(try ConfigLoader.load(text: config(defaultCert: "soon")).get().config, now: now)
        #expect(soon.failures == 0)
        #expect(soon.lines.contains { $0.hasPrefix("! ") && $0.contains("soon.pem") }, "\(soon.lines)")
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func accessLogCarriesTheTLSFacts(_ dataPath: ServerSnapshot.DataPath) async throws {
        let path = fx.path("access-\(UUID().uuidString).log")
        var snap = try snapshot(config(), dataPath)
        snap.accessLog = AccessLogSettings(path: path, format: .json)
        let server = ProxyServer(eventLoopCount: 1)
        let port = try await server.start(snapshot: snap)[0].port
        let r = try curl(port, host: "b.test", ["--tlsv1.3"])
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
        #expect(r.status == 0, "\(r.stderr)")
        let line = try String(contentsOfFile: path, encoding: .utf8)
        #expect(line.contains("\"tls_version\":\"TLSv1.3\",\"tls_cipher\":\"TLS_"), "\(line)")
        #expect(line.contains("\"tls_sni\":\"b.test\",\"tls_resumed\":false"), "\(line)")
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func clientCertificateRequiredWithClientAuth(_ path: ServerSnapshot.DataPath) async throws {
        try await serve(config(extra: #"ca-file "\#(fx.path("root.pem"))"; client-auth #true"#), path) { _, port in
            let without = try curl(port, host: "a.test")
            #expect(without.status != 0)
            #expect(!without.stdout.contains("healthy"))
            let with = try curl(port, host: "a.test", ["--cert", fx.path("client.pem"), "--key", fx.path("client.key")])
            #expect(with.status == 0, "\(with.stderr)")
            #expect(with.stdout.contains("healthy"))
            // A certificate the CA did not issue.
            let untrusted = try curl(port, host: "a.test", ["--cert", fx.path("untrusted.pem"), "--key", fx.path("other.key")])
            #expect(untrusted.status != 0)
        }
    }

    /// `ca-file` without `client-auth`: no certificate is fine, a certificate that is sent must verify.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func clientCertificateOptionalWithCAFileAlone(_ path: ServerSnapshot.DataPath) async throws {
        try await serve(config(extra: #"ca-file "\#(fx.path("root.pem"))""#), path) { _, port in
            let without = try curl(port, host: "a.test")
            #expect(without.status == 0, "\(without.stderr)")
            let with = try curl(port, host: "a.test", ["--cert", fx.path("client.pem"), "--key", fx.path("client.key")])
            #expect(with.status == 0, "\(with.stderr)")
        }
    }

    /// Reloads that swap the certificate (two certificates for a.test) while a client opens a
    /// new verified connection per request: no request fails, both certificates are served.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func certificateRotationByReloadDropsNothing(_ path: ServerSnapshot.DataPath) async throws {
        let one = try snapshot(config(defaultCert: "a", sni: false), path)
        let two = try snapshot(config(defaultCert: "a2", sni: false), path)
        try await serve(config(defaultCert: "a", sni: false), path) { server, port in
            let stop = Atomic(false)
            let counts = Mutex((ok: 0, failed: 0, serials: Set<String>()))
            let args = [
                "-sS", "--max-time", "10", "--cacert", fx.path("root.pem"), "--resolve", "a.test:\(port):127.0.0.1",
                "-w", "%{certs}", "https://a.test:\(port)/health",
            ]
            let loop = Thread {
                while !stop.load(ordering: .relaxed) {
                    let r = try? runProcess("/usr/bin/curl", args)
                    let ok = r?.status == 0 && r?.stdout.contains("healthy") == true
                    counts.withLock { c in
                        if ok { c.ok += 1 } else { c.failed += 1 }
                        if let r, let serial = r.stdout.range(of: "Serial Number:") {
                            c.serials.insert(String(r.stdout[serial.upperBound...].prefix(8)))
                        }
                    }
                }
            }
            loop.start()
            for i in 0..<8 {
                let before = counts.withLock { $0.ok + $0.failed }
                // Each reload after at least two more requests.
                while counts.withLock({ $0.ok + $0.failed }) < before + 2 { await Task.yield() }
                try server.reload(snapshot: i % 2 == 0 ? two : one)
            }
            stop.store(true, ordering: .relaxed)
            while loop.isExecuting { await Task.yield() }
            let c = counts.withLock { $0 }
            #expect(c.failed == 0)
            #expect(c.ok >= 16)
            #expect(c.serials.count == 2, "\(c.serials)")
        }
    }
}
