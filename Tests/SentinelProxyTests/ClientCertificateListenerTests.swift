import Foundation
import SentinelConfig
import SentinelRuntime
import SentinelTLS
import SentinelTestSupport
import Testing

@testable import SentinelProxy

/// Client certificates and OCSP stapling on HTTPS listeners, end to end with real `curl` and
/// `openssl s_client`: configuration text → snapshot → handshake → what the upstream receives
/// and the access log records.
@Suite(.serialized) struct ClientCertificateListenerTests {
    let fx = HTTPSFixtures.shared
    let mx = MTLSFixtures.shared

    /// A listener with a.test / b.test certificates, `tlsExtra` inside `tls`, and a route `/up`
    /// forwarding the client-certificate facts upstream.
    func config(upstreamPort: Int = 9, tls tlsExtra: String, sniA: String = "") -> String {
        TestConfigs.httpsListener(
            cert: fx.path("default.pem"), key: fx.path("default.key"),
            tls: """
                sni { hostnames "a.test"; cert-file "\(fx.path("a.pem"))"; key-file "\(fx.path("a.key"))"; \(sniA) }
                sni { hostnames "b.test"; cert-file "\(fx.path("b.pem"))"; key-file "\(fx.path("b.key"))" }
                \(tlsExtra)
                """, listener: "request-timeout-secs 5")
            + """
        upstreams { upstream "up" { target "127.0.0.1:\(upstreamPort)" } }
        routes {
            route "h" { matches { path "/health" }; builtin-handler "health" }
            route "up" {
                matches { path "/up" }
                upstream "up"
                policies {
                    request-headers {
                        set {
                            X-Client-Subject "{tls_client_subject}"
                            X-Client-Verify "{tls_client_verify}"
                            X-Client-Fingerprint "{tls_client_fingerprint}"
                        }
                        add { X-Client-SAN "{tls_client_san}" }
                    }
                }
            }
        }
        """
    }

    var required: String { #"ca-file "\#(mx.path("cca.pem"))"; client-auth "required""# }

    static let process = ProcessIdentity(stickyKey: [1], proxyID: "t", zone: "z", ticketKeys: try! TicketKeyRing.random())

    /// The snapshot of `text`, served on `path` (every socket test runs on both data paths).
    func snapshot(_ text: String, _ path: ServerSnapshot.DataPath = .nio) throws -> ServerSnapshot {
        let config = try ConfigLoader.load(text: text).get().config
        var s = try SnapshotBuilder.build(config, instanceID: "t", process: Self.process)
        s.dataPath = path
        return s
    }

    func serve(_ text: String, _ path: ServerSnapshot.DataPath, accessLog: String? = nil, _ body: (ProxyServer, Int) async throws -> Void) async throws {
        var snap = try snapshot(text, path)
        if let accessLog { snap.accessLog = AccessLogSettings(path: accessLog, format: .json) }
        let server = ProxyServer(eventLoopCount: 1)
        let bound = try await server.start(snapshot: snap)
        do {
            try await body(server, bound[0].port)
        } catch {
            _ = await server.shutdown(gracefulTimeout: .seconds(1))
            throw error
        }
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
    }

    func curl(_ port: Int, host: String = "a.test", path: String = "/up", cert: String? = nil, key: String? = nil, _ extra: [String] = []) throws -> ProcessResult {
        var args = ["-sS", "--max-time", "10", "--cacert", fx.path("root.pem"), "--resolve", "\(host):\(port):127.0.0.1"]
        if let cert { args += ["--cert", cert, "--key", key ?? cert.replacingOccurrences(of: ".pem", with: ".key")] }
        return try runProcess("/usr/bin/curl", args + extra + ["https://\(host):\(port)\(path)"])
    }

    func sClient(_ port: Int, _ args: [String]) throws -> ProcessResult {
        try runProcess(
            "/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-ign_eof", "-CAfile", fx.path("root.pem")] + args,
            input: "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    }

    func fingerprint(_ pem: String) throws -> String {
        let r = try runProcess("/usr/bin/openssl", ["x509", "-in", pem, "-noout", "-fingerprint", "-sha256"])
        return String(r.stdout.split(separator: "=").last ?? "").replacingOccurrences(of: ":", with: "")
            .trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func requiredRefusesWithoutACertificateAndForwardsTheVerifiedSubject(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("from upstream") }
        let log = fx.path("access-\(UUID().uuidString).log")
        try await serve(config(upstreamPort: upstream.port, tls: required), path, accessLog: log) { server, port in
            let without = try curl(port)
            #expect(without.status != 0)
            #expect(!without.stdout.contains("from upstream"))
            #expect(server.metrics.tls.count(listener: "tls", outcome: "client_cert_required", failed: true) == 1)
            // A certificate of another CA: refused as a bad client certificate.
            let untrusted = try curl(port, cert: fx.path("untrusted.pem"), key: fx.path("other.key"))
            #expect(untrusted.status != 0)
            #expect(server.metrics.tls.count(listener: "tls", outcome: "bad_client_cert", failed: true) == 1)
            // The verified client; its own claims of the same names are not forwarded.
            let alice = try curl(port, cert: mx.path("alice.pem"), [
                "-H", "X-Client-Subject: CN=admin", "-H", "X-Client-SAN: DNS:admin.test", "-H", "X-Client-Verify: verified",
            ])
            #expect(alice.status == 0, "\(alice.stderr)")
            #expect(alice.stdout == "from upstream")
            #expect(server.metrics.render(version: "t").contains(#"sentinel_tls_handshake_failures_total{listener="tls",reason="client_cert_required"} 1"#))
        }
        let request = try #require(upstream.requests.first)
        #expect(upstream.requests.count == 1)
        #expect(request.header("x-client-subject") == ["CN=alice,O=Sentinel Tests"], "\(request.head)")
        #expect(request.header("x-client-san") == ["email:alice@clients.test,URI:spiffe://tests/alice"], "\(request.head)")
        #expect(request.header("x-client-verify") == ["verified"])
        #expect(request.header("x-client-fingerprint") == [try fingerprint(mx.path("alice.pem"))])
        let line = try String(contentsOfFile: log, encoding: .utf8)
        #expect(line.contains(#""tls_client_verify":"verified","tls_client_subject":"CN=alice,O=Sentinel Tests""#), "\(line)")
        #expect(line.contains(#""tls_client_san":["email:alice@clients.test","URI:spiffe://tests/alice"]"#), "\(line)")
        #expect(line.contains(#""tls_client_fingerprint":"\#(try fingerprint(mx.path("alice.pem")))""#), "\(line)")
        await upstream.shutdown()
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func optionalLetsAClientWithoutACertificateThroughAsNone(_ path: ServerSnapshot.DataPath) async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("from upstream") }
        let log = fx.path("access-\(UUID().uuidString).log")
        let optional = #"ca-file "\#(mx.path("cca.pem"))"; client-auth "optional""#
        try await serve(config(upstreamPort: upstream.port, tls: optional), path, accessLog: log) { server, port in
            let without = try curl(port, ["-H", "X-Client-Subject: CN=alice,O=Sentinel Tests", "-H", "X-Client-SAN: spoofed"])
            #expect(without.stdout == "from upstream", "\(without.stderr)")
            let alice = try curl(port, cert: mx.path("alice.pem"))
            #expect(alice.stdout == "from upstream", "\(alice.stderr)")
            // A certificate that is sent must verify, also when optional.
            let untrusted = try curl(port, cert: fx.path("untrusted.pem"), key: fx.path("other.key"))
            #expect(untrusted.status != 0)
            #expect(server.metrics.tls.count(listener: "tls", outcome: "bad_client_cert", failed: true) == 1)
        }
        #expect(upstream.requests.count == 2)
        let none = try #require(upstream.requests.first)
        #expect(none.header("x-client-verify") == ["none"])
        // The client's own claims are gone and nothing replaces them (the value is empty).
        #expect(none.header("x-client-subject").isEmpty, "\(none.head)")
        #expect(none.header("x-client-san").isEmpty, "\(none.head)")
        #expect(upstream.requests[1].header("x-client-verify") == ["verified"])
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first?.contains(#""tls_client_verify":"none""#) == true, "\(lines)")
        #expect(lines.first?.contains("tls_client_subject") == false)
        await upstream.shutdown()
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func certificateRevokedByTheCRLIsRefused(_ path: ServerSnapshot.DataPath) async throws {
        let withCRL = required + #"; crl-file "\#(mx.path("cca.crl"))""#
        try await serve(config(tls: withCRL), path) { server, port in
            let mallory = try curl(port, path: "/health", cert: mx.path("mallory.pem"))
            #expect(mallory.status != 0)
            #expect(!mallory.stdout.contains("healthy"))
            #expect(server.metrics.tls.count(listener: "tls", outcome: "bad_client_cert", failed: true) == 1)
            let alice = try curl(port, path: "/health", cert: mx.path("alice.pem"))
            #expect(alice.stdout.contains("healthy"), "\(alice.stderr)")
        }
        // Without the CRL the same certificate is accepted (the refusal is the CRL's).
        try await serve(config(tls: required), path) { _, port in
            let mallory = try curl(port, path: "/health", cert: mx.path("mallory.pem"))
            #expect(mallory.stdout.contains("healthy"), "\(mallory.stderr)")
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func verifyDepthBoundsTheClientChain(_ path: ServerSnapshot.DataPath) async throws {
        try await serve(config(tls: required + "; verify-depth 0"), path) { server, port in
            let deep = try curl(port, path: "/health", cert: mx.path("deep-chain.pem"), key: mx.path("deep.key"))
            #expect(deep.status != 0)
            #expect(server.metrics.tls.count(listener: "tls", outcome: "bad_client_cert", failed: true) == 1)
            let alice = try curl(port, path: "/health", cert: mx.path("alice.pem"))
            #expect(alice.stdout.contains("healthy"), "\(alice.stderr)")
        }
        try await serve(config(tls: required), path) { _, port in
            let deep = try curl(port, path: "/health", cert: mx.path("deep-chain.pem"), key: mx.path("deep.key"))
            #expect(deep.stdout.contains("healthy"), "\(deep.stderr)")
        }
    }

    /// A ticket minted under one client-certificate policy never resumes under another after a
    /// reload (the ring is the same, so only the binding refuses it); the same policy resumes.
    @Test(arguments: ["-tls1_2", "-tls1_3"], ServerSnapshot.DataPath.allCases)
    func ticketDoesNotResumeAcrossClientCertificatePolicies(version: String, path: ServerSnapshot.DataPath) async throws {
        let optional = #"ca-file "\#(mx.path("cca.pem"))"; client-auth "optional""#
        let withCRL = required + #"; crl-file "\#(mx.path("cca.crl"))""#
        let cert = ["-cert", mx.path("alice.pem"), "-key", mx.path("alice.key")]
        // (policy minting the ticket, policy after the reload, resumes?)
        let cases: [(String, String, Bool)] = [
            ("", "", true), ("", required, false), (optional, required, false), (required, withCRL, false), (required, required, true),
        ]
        for (before, after, resumes) in cases {
            let session = fx.path("sess-\(UUID().uuidString).pem")
            try await serve(config(tls: before), path) { server, port in
                let first = try sClient(port, [version, "-servername", "a.test", "-sess_out", session] + cert)
                #expect(first.stdout.contains("New, TLSv1"), "\(first.stdout)")
                try server.reload(snapshot: try snapshot(config(tls: after), path))
                let second = try sClient(port, [version, "-servername", "a.test", "-sess_in", session] + cert)
                #expect(second.stdout.contains("HTTP/1.1 200"), "\(before) → \(after): \(second.stdout)")
                #expect(second.stdout.contains("Reused, TLSv1") == resumes, "\(before) → \(after): \(second.stdout)")
            }
        }
        // The policy that matters most: without a certificate the old ticket gets no connection.
        let session = fx.path("sess-\(UUID().uuidString).pem")
        try await serve(config(tls: ""), path) { server, port in
            _ = try sClient(port, [version, "-servername", "a.test", "-sess_out", session])
            try server.reload(snapshot: try snapshot(config(tls: required), path))
            let stolen = try sClient(port, [version, "-servername", "a.test", "-sess_in", session])
            #expect(!stolen.stdout.contains("HTTP/1.1 200"), "\(stolen.stdout)")
            #expect(!stolen.stdout.contains("Reused, TLSv1"))
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func ocspResponseIsStapledAndRefreshedOnReload(_ path: ServerSnapshot.DataPath) async throws {
        let ocsp = #"ocsp-file "\#(mx.path("a.ocsp.der"))""#
        try await serve(config(tls: ""), path) { server, port in
            let before = try sClient(port, ["-servername", "a.test", "-status"])
            #expect(before.stdout.contains("OCSP response: no response sent"), "\(before.stdout)")
            try server.reload(snapshot: try snapshot(config(tls: "", sniA: ocsp), path))
            let after = try sClient(port, ["-servername", "a.test", "-status"])
            #expect(after.stdout.contains("OCSP Response Status: successful"), "\(after.stdout)")
            #expect(after.stdout.contains("Cert Status: good"), "\(after.stdout)")
            #expect(after.stdout.contains("HTTP/1.1 200"))
            // Another name's certificate has no staple.
            let b = try sClient(port, ["-servername", "b.test", "-status"])
            #expect(b.stdout.contains("OCSP response: no response sent"), "\(b.stdout)")
        }
    }

    @Test func unusableOCSPResponsesAreRefusedAtLoadWithTheirLocation() throws {
        // For another certificate (a.test's response on b.test's certificate, via the default slot).
        let mismatch = config(tls: #"ocsp-file "\#(mx.path("a.ocsp.der"))""#)
        #expect {
            _ = try snapshot(mismatch)
        } throws: { error in
            let text = "\(error)"
            return text.contains("not for the certificate CN=default.test") && text.contains("a.ocsp.der") && text.contains("<config>:")
        }
        // A response that says "revoked".
        let revoked = config(tls: "", sniA: #"ocsp-file "\#(mx.path("b-revoked.ocsp.der"))""#)
        #expect { _ = try snapshot(revoked) } throws: { "\($0)".contains("not for the certificate CN=a.test") }
        let bRevoked = config(tls: "").replacingOccurrences(
            of: #"key-file "\#(fx.path("b.key"))" }"#, with: #"key-file "\#(fx.path("b.key"))"; ocsp-file "\#(mx.path("b-revoked.ocsp.der"))" }"#)
        #expect { _ = try snapshot(bRevoked) } throws: { "\($0)".contains("is revoked") }
        // Not DER at all.
        let garbage = config(tls: "", sniA: #"ocsp-file "\#(fx.path("a.pem"))""#)
        #expect { _ = try snapshot(garbage) } throws: { "\($0)".contains("not a DER OCSP response") }
        // The validator: good now, expired once its nextUpdate (a week) has passed.
        let good = try ConfigLoader.load(text: config(tls: "", sniA: #"ocsp-file "\#(mx.path("a.ocsp.der"))""#)).get().config
        let now = Int64(Date().timeIntervalSince1970)
        let today = CertificateValidation.run(good, now: now)
        #expect(today.failures == 0, "\(today.lines)")
        #expect(today.lines.contains { $0.hasPrefix("✓ ") && $0.contains("a.ocsp.der") }, "\(today.lines)")
        let later = CertificateValidation.run(good, now: now + 8 * 86_400)
        #expect(later.failures == 1, "\(later.lines)")
        #expect(later.lines.contains { $0.hasPrefix("✗ <config>:") && $0.contains("expired") }, "\(later.lines)")
        let soon = CertificateValidation.run(good, now: now + 7 * 86_400 - 3600)
        #expect(soon.lines.contains { $0.hasPrefix("! ") && $0.contains("expires") }, "\(soon.lines)")
    }

    @Test func validateChecksTheClientCAAndCRL() throws {
        let text = config(tls: required + #"; crl-file "\#(mx.path("cca.crl"))""#)
        let result = CertificateValidation.run(try ConfigLoader.load(text: text).get().config, now: Int64(Date().timeIntervalSince1970))
        #expect(result.failures == 0, "\(result.lines)")
        #expect(result.lines.contains { $0.contains("client certificates: required, 1 CA(s)") && $0.contains("cca.crl") }, "\(result.lines)")
        let files = FileChecks.run(try ConfigLoader.load(text: text).get().config, certificates: true, agents: false)
        #expect(files.failures == 0, "\(files.lines)")
        #expect(files.lines.contains { $0.contains("crl-file") }, "\(files.lines)")
        // A CRL file that holds a certificate instead.
        let wrong = config(tls: required + #"; crl-file "\#(mx.path("cca.pem"))""#)
        let bad = FileChecks.run(try ConfigLoader.load(text: wrong).get().config, certificates: true, agents: false)
        #expect(bad.failures == 1, "\(bad.lines)")
        #expect { _ = try snapshot(wrong) } throws: { "\($0)".contains("CRL") }
    }

    /// Header values from a certificate can never add a line or grow without bound.
    @Test func variableValuesAreSanitisedAndBounded() {
        #expect(ConnectionTLS.sanitised("CN=a\r\nX-Evil: 1") == Array(#"CN=a\x0D\x0AX-Evil: 1"#.utf8))
        #expect(ConnectionTLS.sanitised("é") == Array(#"\xC3\xA9"#.utf8))
        #expect(ConnectionTLS.sanitised(String(repeating: "a", count: ConnectionTLS.maxValueBytes))?.count == ConnectionTLS.maxValueBytes)
        #expect(ConnectionTLS.sanitised(String(repeating: "a", count: ConnectionTLS.maxValueBytes + 1)) == nil)
        #expect(ConnectionTLS.sanitised(String(repeating: "\n", count: ConnectionTLS.maxValueBytes / 4 + 1)) == nil)
    }
}
