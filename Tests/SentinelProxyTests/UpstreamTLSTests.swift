#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import SentinelConfig
import SentinelRuntime
import SentinelTLS
import SentinelTestSupport
import Synchronization
import Testing

@testable import SentinelProxy

/// Upstream TLS end to end: configuration text → snapshot (one client context per upstream) →
/// `TLSClientHandler` on pooled upstream connections, against TLS backends on 127.0.0.1 port 0
/// served by the SentinelTLS engine's server side (`TLSServerHandler`) with certificates made by
/// the `openssl` command line (`HTTPSFixtures`).
@Suite(.serialized, .timeLimit(.minutes(2))) struct UpstreamTLSTests {
    let fx = HTTPSFixtures.shared

    /// A TLS backend with the certificate `cert` (tickets on, so a client can resume), optionally
    /// requiring a client certificate issued by the test root; `handshakes` counts its side.
    struct Backend {
        let upstream: ScriptedUpstream
        let handshakes: TLSMetrics
        var port: Int { upstream.port }
    }

    func backend(
        cert: String, requireClientCertificate: Bool = false, respond: @escaping @Sendable (ScriptedUpstream.Request) -> ScriptedUpstream.Reply = { _ in .ok("tls ok") }
    ) async throws -> Backend {
        let chain = try TLSCertificateChain(
            certificatePEM: Array(try Data(contentsOf: URL(fileURLWithPath: fx.path(cert + ".pem")))),
            keyPEM: Array(try Data(contentsOf: URL(fileURLWithPath: fx.path(cert + ".key")))), source: cert)
        let trust = try TLSTrustStore(caPEM: Array(try Data(contentsOf: URL(fileURLWithPath: fx.path("root.pem")))))
        let host = TLSServerHost(
            certificates: [TLSServerCertificate(chain: chain)], clientAuthentication: requireClientCertificate ? .required(trust) : .none)
        let set = try TLSContextSet(TLSServerConfiguration(listener: "backend", hosts: [host]), ticketKeys: try TicketKeyRing.random())
        let tls = ListenerTLS(contexts: set, handshakeTimeout: .seconds(5))
        let metrics = TLSMetrics()
        let upstream = try await ScriptedUpstream(prepare: { channel in
            try channel.pipeline.syncOperations.addHandler(TLSServerHandler(tls: tls, listenerID: "backend", metrics: metrics))
        }, respond: respond)
        return Backend(upstream: upstream, handshakes: metrics)
    }

    /// `path`: the data path (`system { data-path }`); the data-plane tests run on both.
    func config(_ path: ServerSnapshot.DataPath = .nio, port: Int, tls: String, extra: String = "") -> String {
        """
        system { worker-threads 1; data-path "\(path == .reactor ? "reactor" : "nio")" }
        listeners { listener "l" { address "127.0.0.1:0"; protocol "http" } }
        upstreams {
            upstream "up" {
                target "127.0.0.1:\(port)"
                timeouts { connect-secs 5 }
                tls { \(tls) }
                \(extra)
            }
        }
        routes { route "up" { matches { path-prefix "/" }; upstream "up" } }
        """
    }

    static let process = ProcessIdentity(stickyKey: [1], proxyID: "t", zone: "z", ticketKeys: nil)

    func snapshot(_ text: String) throws -> ServerSnapshot {
        let config = try ConfigLoader.load(text: text).get().config
        return try SnapshotBuilder.build(config, instanceID: "t", process: Self.process)
    }

    func get(_ client: RawClient, _ path: String = "/x") throws -> RawClient.Response {
        try client.request("GET \(path) HTTP/1.1\r\nHost: h\r\n\r\n")
    }

    /// A good certificate (verified against `ca-cert`, the target's IP as an IP SAN): requests
    /// are proxied, a keep-alive upstream connection carries several, and a new connection to
    /// the same target resumes the session of the first.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func goodCertificateIsUsedReusedAndResumed(_ path: ServerSnapshot.DataPath) async throws {
        let backend = try await backend(cert: "upstream") { request in
            if request.requestLine.hasPrefix("GET /last") {
                return .bytesThenClose(Array("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nlast".utf8))
            }
            return .ok("tls ok")
        }
        let server = ProxyServer(eventLoopCount: 1)
        let port = try await server.start(snapshot: try snapshot(config(path, port: backend.port, tls: #"ca-cert "\#(fx.path("root.pem"))""#)))[0].port
        do {
            let client = try RawClient(port: port)
            for _ in 0..<3 {
                let r = try get(client)
                #expect(r.status == 200)
                #expect(r.body == "tls ok")
            }
            // Three requests, one upstream TLS connection (keep-alive pooling).
            #expect(backend.upstream.connectionCount == 1)
            // The upstream closes this one after its answer; the next request needs a new connection.
            let last = try get(client, "/last")
            #expect(last.body == "last")
            let r = try get(client)
            #expect(r.status == 200)
            #expect(backend.upstream.connectionCount == 2)
            let tls = server.metrics.upstreamTLS
            #expect(tls.count(upstream: "up", outcome: "full", failed: false) == 1)
            #expect(tls.count(upstream: "up", outcome: "resumed", failed: false) == 1)
            // The backend saw the same: one full handshake, one resumption.
            #expect(backend.handshakes.count(listener: "backend", outcome: "resumed", failed: false) == 1)
            let text = server.metrics.render(version: "t")
            #expect(text.contains("sentinel_upstream_tls_handshakes_total{upstream=\"up\",kind=\"resumed\"} 1"), "\(text)")
            #expect(!text.contains("sentinel_upstream_tls_verify_disabled{"))
        } catch {
            _ = await server.shutdown(gracefulTimeout: .seconds(1))
            throw error
        }
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
        await backend.upstream.shutdown()
    }

    /// A reload builds a new client context: pooled connections and cached sessions of the old
    /// one are not used under it (a resumed handshake verifies nothing, so a session is only good
    /// under the trust it was verified with); sessions of the new context resume as before.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func aReloadStartsAfreshUnderTheNewContext(_ path: ServerSnapshot.DataPath) async throws {
        let backend = try await backend(cert: "upstream") { request in
            if request.requestLine.hasPrefix("GET /last") {
                return .bytesThenClose(Array("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nlast".utf8))
            }
            return .ok("tls ok")
        }
        let text = config(path, port: backend.port, tls: #"ca-cert "\#(fx.path("root.pem"))""#)
        let server = ProxyServer(eventLoopCount: 1)
        let port = try await server.start(snapshot: try snapshot(text))[0].port
        do {
            let client = try RawClient(port: port)
            #expect(try get(client).status == 200)
            try server.reload(snapshot: try snapshot(text))
            #expect(try get(client).status == 200)
            // The idle connection of the old context was not reused, nor its session.
            #expect(backend.upstream.connectionCount == 2)
            let tls = server.metrics.upstreamTLS
            #expect(tls.count(upstream: "up", outcome: "full", failed: false) == 2)
            #expect(tls.count(upstream: "up", outcome: "resumed", failed: false) == 0)
            // Under the new context, a new connection resumes the new session.
            #expect(try get(client, "/last").body == "last")
            #expect(try get(client).status == 200)
            #expect(backend.upstream.connectionCount == 3)
            #expect(tls.count(upstream: "up", outcome: "resumed", failed: false) == 1)
        } catch {
            _ = await server.shutdown(gracefulTimeout: .seconds(1))
            throw error
        }
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
        await backend.upstream.shutdown()
    }

    /// The upstream's name for SNI and verification comes from `sni` when written.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func sniNameIsVerified(_ path: ServerSnapshot.DataPath) async throws {
        let backend = try await backend(cert: "upstream")
        let text = config(path, port: backend.port, tls: #"ca-cert "\#(fx.path("root.pem"))"; sni "upstream.test""#)
        try await ProxyTests.withProxy(try snapshot(text)) { port in
            let r = try get(try RawClient(port: port))
            #expect(r.status == 200)
        }
        await backend.upstream.shutdown()
    }

    /// Certificates that must not be trusted: 502, the reason in the access log's `error`, the
    /// failure counted by reason, and the backend never sees the request.
    @Test(arguments: [
        ("rogue", "", "certificate verify failed: unable to get local issuer certificate"),
        ("upstream-expired", "", "certificate verify failed: certificate has expired"),
        ("upstream", #"sni "wrong.test""#, "certificate verify failed: hostname mismatch"),
    ])
    func badCertificateIsRefused(cert: String, sni: String, reason: String) async throws {
        let backend = try await backend(cert: cert)
        let text = config(port: backend.port, tls: #"ca-cert "\#(fx.path("root.pem"))"; \#(sni)"#)
        let log = try await ErrorPathTests.loggedLines({ settings in
            var s = try snapshot(text)
            s.accessLog = settings
            return s
        }) { server, port in
            let r = try get(try RawClient(port: port))
            #expect(r.status == 502)
            #expect(server.metrics.upstreamTLS.count(upstream: "up", outcome: "bad_server_cert", failed: true) >= 1)
            let metrics = server.metrics.render(version: "t")
            #expect(metrics.contains("sentinel_upstream_failures_total{upstream=\"up\",reason=\"tls_handshake_failed\"} 1"), "\(metrics)")
            // Every attempt (the retry rules replay a request that was never sent) counts against the target.
            #expect(metrics.contains("reason=\"tls\"} ") && !metrics.contains("reason=\"tls\"} 0"), "\(metrics)")
        }
        #expect(backend.upstream.requests.isEmpty)
        let line = try #require(log.first)
        #expect(line.contains("\"status\":502"), "\(line)")
        #expect(line.contains("TLS handshake with 127.0.0.1:\(backend.port) failed: \(reason)"), "\(line)")
        await backend.upstream.shutdown()
    }

    /// `insecure-skip-verify #true`: an untrusted certificate is accepted, with a warning at
    /// load, a warning logged when the snapshot is applied and a gauge that says so.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func insecureSkipVerifyIsAllowedLoudly(_ path: ServerSnapshot.DataPath) async throws {
        let backend = try await backend(cert: "rogue")
        let text = config(path, port: backend.port, tls: "insecure-skip-verify #true")
        let loaded = try ConfigLoader.load(text: text).get()
        #expect(loaded.warnings.contains { "\($0)".contains("insecure-skip-verify") }, "\(loaded.warnings)")
        let lines = Mutex<[String]>([])
        let server = ProxyServer(eventLoopCount: 1, log: { line in lines.withLock { $0.append(line) } })
        let port = try await server.start(snapshot: try SnapshotBuilder.build(loaded.config, instanceID: "t", process: Self.process))[0].port
        let r = try get(try RawClient(port: port))
        let metrics = server.metrics.render(version: "t")
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
        await backend.upstream.shutdown()
        #expect(r.status == 200)
        #expect(metrics.contains("sentinel_upstream_tls_verify_disabled{upstream=\"up\"} 1"), "\(metrics)")
        let warning = lines.withLock { $0 }.first { $0.contains("upstream_tls_verify_disabled") }
        #expect(warning?.contains("\"upstream\":\"up\"") == true, "\(lines.withLock { $0 })")
        #expect(warning?.contains("\"level\":\"warn") == true, "\(String(describing: warning))")
    }

    /// mTLS to a backend that requires a client certificate: refused without one (502 with the
    /// backend's alert as the reason), accepted with `client-cert`/`client-key`.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func clientCertificateToABackendThatRequiresOne(_ path: ServerSnapshot.DataPath) async throws {
        let backend = try await backend(cert: "upstream", requireClientCertificate: true)
        let ca = #"ca-cert "\#(fx.path("root.pem"))""#
        let log = try await ErrorPathTests.loggedLines({ settings in
            var s = try snapshot(config(path, port: backend.port, tls: ca))
            s.accessLog = settings
            return s
        }) { server, port in
            let r = try get(try RawClient(port: port))
            #expect(r.status == 502)
            #expect(backend.upstream.requests.isEmpty)
        }
        let line = try #require(log.first)
        #expect(line.contains("certificate required"), "\(line)")
        let with = config(path, port: backend.port, tls: #"\#(ca); client-cert "\#(fx.path("client.pem"))"; client-key "\#(fx.path("client.key"))""#)
        try await ProxyTests.withProxy(try snapshot(with)) { port in
            let r = try get(try RawClient(port: port))
            #expect(r.status == 200)
            #expect(r.body == "tls ok")
        }
        #expect(backend.upstream.requests.count == 1)
        await backend.upstream.shutdown()
    }

    /// A client key that is not the certificate's, or a CA file that is missing, fails the
    /// snapshot (start or reload) with the upstream and the file named.
    @Test func unusableFilesFailTheSnapshot() throws {
        let mismatched = config(port: 9, tls: #"client-cert "\#(fx.path("client.pem"))"; client-key "\#(fx.path("other.key"))""#)
        #expect {
            _ = try snapshot(mismatched)
        } throws: { error in
            "\(error)".contains("upstream \"up\" tls: client-key") && "\(error)".contains("does not match")
        }
        #expect {
            _ = try snapshot(config(port: 9, tls: #"ca-cert "\#(fx.path("missing.pem"))""#))
        } throws: { error in
            "\(error)".contains("upstream \"up\" tls ca-cert") && "\(error)".contains("missing.pem")
        }
        // Nothing to verify against: a contradiction, refused at load.
        let both = config(port: 9, tls: #"insecure-skip-verify #true; ca-cert "\#(fx.path("root.pem"))""#)
        #expect(throws: (any Error).self) { try ConfigLoader.load(text: both).get() }
    }

    /// `sentinel validate`: the upstream's CA bundle parses, its client certificate matches its key.
    @Test func validateChecksUpstreamCertificates() throws {
        func run(_ tls: String) throws -> (lines: [String], failures: Int) {
            CertificateValidation.run(try ConfigLoader.load(text: config(port: 9, tls: tls)).get().config, now: Int64(time(nil)))
        }
        let good = try run(#"ca-cert "\#(fx.path("root.pem"))"; client-cert "\#(fx.path("client.pem"))"; client-key "\#(fx.path("client.key"))""#)
        #expect(good.failures == 0, "\(good.lines)")
        #expect(good.lines.contains { $0.hasPrefix("✓ upstream \"up\" ca-cert") }, "\(good.lines)")
        #expect(good.lines.contains { $0.hasPrefix("✓ upstream \"up\" client-cert") }, "\(good.lines)")
        let bad = try run(#"client-cert "\#(fx.path("client.pem"))"; client-key "\#(fx.path("other.key"))""#)
        #expect(bad.failures == 1, "\(bad.lines)")
        #expect(bad.lines.contains { $0.hasPrefix("✗ upstream \"up\" client-cert") && $0.contains("does not belong") }, "\(bad.lines)")
        // A key file given as the CA bundle holds no certificate.
        let notCA = try run(#"ca-cert "\#(fx.path("client.key"))""#)
        #expect(notCA.failures == 1, "\(notCA.lines)")
    }

    /// gRPC health checks of a `tls` upstream speak TLS with ALPN h2 (the backend offers only h2)
    /// and the upstream's trust: healthy against a good certificate, unhealthy with the reason
    /// against one the upstream must not trust.
    @Test func grpcHealthCheckOverTLS() async throws {
        func grpcBackend(_ cert: String) async throws -> GRPCHealthServer {
            let chain = try TLSCertificateChain(
                certificatePEM: Array(try Data(contentsOf: URL(fileURLWithPath: fx.path(cert + ".pem")))),
                keyPEM: Array(try Data(contentsOf: URL(fileURLWithPath: fx.path(cert + ".key")))), source: cert)
            var c = TLSServerConfiguration(listener: "grpc", hosts: [TLSServerHost(certificates: [TLSServerCertificate(chain: chain)])])
            c.alpn = ["h2"]
            let tls = ListenerTLS(contexts: try TLSContextSet(c, ticketKeys: nil), handshakeTimeout: .seconds(5))
            return try await GRPCHealthServer(.status(1)) { channel in
                try channel.pipeline.syncOperations.addHandler(TLSServerHandler(tls: tls, listenerID: "grpc", metrics: nil))
            }
        }
        let good = try await grpcBackend("upstream")
        let rogue = try await grpcBackend("rogue")
        var upstreams: [UpstreamRuntime] = []
        for (id, server) in [("good", good), ("rogue", rogue)] {
            var u = try snapshot(config(port: server.port, tls: #"ca-cert "\#(fx.path("root.pem"))""#)).upstreams[0]
            u = UpstreamRuntime(id: id, targets: u.targets, tls: u.tls.map {
                UpstreamTLS(upstream: id, context: $0.context, serverNames: $0.serverNames, verifyDisabled: false)
            })
            u.resilience.healthCheck = GRPCHealthCheckTests.spec(service: "", authority: "upstream.test")
            upstreams.append(u)
        }
        try await GRPCHealthCheckTests.withChecker(upstreams) { health, lines in
            var seen: [String] = []
            while seen.count < 2, let line = await HealthCheckerTests.waitFor("\"to\":", in: &lines) {
                if line.contains("\"upstream\":\"good\""), !seen.contains("good") {
                    #expect(line.contains("\"to\":\"healthy\""), "\(line)")
                    seen.append("good")
                }
                if line.contains("\"upstream\":\"rogue\""), !seen.contains("rogue") {
                    #expect(line.contains("\"to\":\"unhealthy\""), "\(line)")
                    #expect(line.contains("TLS handshake failed: certificate verify failed: unable to get local issuer certificate"), "\(line)")
                    seen.append("rogue")
                }
            }
            #expect(seen.count == 2)
        }
        let call = try #require(good.calls.first)
        #expect(call.header(":scheme") == "https")
        #expect(call.header(":authority") == "upstream.test")
        #expect(rogue.calls.isEmpty)
        await good.shutdown()
        await rogue.shutdown()
    }

    /// An HTTP health check of a `tls` upstream runs over TLS too.
    @Test func httpHealthCheckOverTLS() async throws {
        let backend = try await backend(cert: "upstream") { _ in .ok("fine") }
        var u = try snapshot(config(port: backend.port, tls: #"ca-cert "\#(fx.path("root.pem"))""#)).upstreams[0]
        u.resilience.healthCheck = HealthCheckSpec(
            kind: .http(path: "/healthz", expectedStatus: 200, host: nil), interval: .milliseconds(20), timeout: .seconds(2),
            healthyThreshold: 1, unhealthyThreshold: 1)
        try await GRPCHealthCheckTests.withChecker([u]) { _, lines in
            let line = await HealthCheckerTests.waitFor("\"to\":", in: &lines)
            #expect(line?.contains("\"to\":\"healthy\"") == true, "\(String(describing: line))")
        }
        #expect(backend.upstream.requests.first?.requestLine == "GET /healthz HTTP/1.1")
        await backend.upstream.shutdown()
    }
}
