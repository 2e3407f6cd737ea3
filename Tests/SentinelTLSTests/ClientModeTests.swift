import SentinelTLS
import Testing

/// The client role as upstream TLS uses it: SNI, host-name and IP verification with the reason
/// an operator reads in the access log, a per-connection ALPN list, client certificates.
@Suite("TLS client mode")
struct ClientModeTests {
    let fx = Fixtures.shared

    func set() throws -> TLSContextSet {
        try serverSet(hosts: [
            host("default", names: ["default.test"]),
            host("ecdsa", names: ["ecdsa.test"], extra: ["int.pem"]),
            host("ip", names: ["ip.test"]),
            host("expired", names: ["expired.test"]),
        ])
    }

    @Test func serverNameIsSentAsSNIAndVerified() throws {
        let pair = try EnginePair(try set(), try clientContext(), serverName: "ecdsa.test")
        #expect(pair.established)
        #expect(pair.server.serverName == "ecdsa.test")
        #expect(pair.client.facts?.serverName == "ecdsa.test")
        #expect(pair.client.facts?.peerCertificate?.subject == "CN=ecdsa.test")
        // The server picked the certificate by the SNI the client sent (default.test otherwise).
        let other = try EnginePair(try set(), try clientContext(), serverName: "default.test")
        #expect(other.server.serverName == "default.test")
        #expect(other.client.facts?.peerCertificate?.subject == "CN=default.test")
    }

    @Test func anIPLiteralIsVerifiedAgainstIPSubjectAltNamesAndNotSent() throws {
        // No SNI: the server answers with its default host, so give it the IP certificate.
        let ipSet = try serverSet(hosts: [host("ip", names: ["ip.test"])])
        let ok = try EnginePair(ipSet, try clientContext(), serverName: "127.0.0.1")
        #expect(ok.established, "\(String(describing: ok.clientError))")
        #expect(ok.server.serverName == nil)
        let wrong = try EnginePair(ipSet, try clientContext(), serverName: "127.0.0.2")
        #expect(wrong.clientError?.reason == .badServerCertificate)
        #expect(wrong.clientError?.summary == "certificate verify failed: IP address mismatch", "\(String(describing: wrong.clientError))")
        #expect(wrong.server.serverName == nil)
    }

    @Test func verificationFailuresNameTheirReason() throws {
        let mismatch = try EnginePair(try set(), try clientContext(), serverName: "nope.test")
        #expect(mismatch.clientError?.reason == .badServerCertificate)
        #expect(mismatch.clientError?.summary == "certificate verify failed: hostname mismatch", "\(String(describing: mismatch.clientError))")
        let expired = try EnginePair(try set(), try clientContext(), serverName: "expired.test")
        #expect(expired.clientError?.summary == "certificate verify failed: certificate has expired")
        // Trusting another CA only.
        let unknown = try EnginePair(try set(), try clientContext(trust: .custom(fx.clientTrust)), serverName: "ecdsa.test")
        #expect(unknown.clientError?.summary == "certificate verify failed: unable to get local issuer certificate")
        // The client sent its alert: the server fails too, and no session is kept.
        #expect(mismatch.serverError != nil)
        #expect(mismatch.client.session == nil)
    }

    @Test func alpnCanBeReplacedPerConnection() throws {
        let h2 = try serverSet(hosts: [host("ecdsa", names: ["ecdsa.test"], extra: ["int.pem"])]) { $0.alpn = ["h2"] }
        let context = try clientContext(alpn: ["http/1.1"])
        // The context's list alone: no protocol in common.
        let refused = try EnginePair(h2, context, serverName: "ecdsa.test")
        #expect(refused.serverError?.reason == .noApplicationProtocol)
        // The same context, this connection offering h2 (a gRPC health probe).
        let probe = EnginePair(client: try TLSEngine(client: context, serverName: "ecdsa.test", alpn: ["h2"]), server: try TLSEngine(server: h2))
        probe.run()
        #expect(probe.established)
        #expect(probe.client.facts?.alpn == "h2")
        #expect(throws: TLSError.self) { try TLSEngine(client: context, serverName: "ecdsa.test", alpn: [""]) }
    }

    @Test func aRefusedClientCertificateIsReportedToTheClient() throws {
        let mtls = try serverSet(hosts: [host("ecdsa", names: ["ecdsa.test"], extra: ["int.pem"], clientAuth: .required(fx.clientTrust))])
        for version in [TLSVersion.tls1_2, .tls1_3] {
            let without = try EnginePair(mtls, try clientContext(max: version), serverName: "ecdsa.test")
            #expect(without.serverError?.reason == .clientCertificateRequired, "\(version)")
            // TLS 1.2: the client's handshake fails; TLS 1.3: its handshake completed, the alert follows.
            let error = try #require(without.clientError, "\(version)")
            #expect(error.summary.contains("alert"), "\(version): \(error)")
            let with = try EnginePair(mtls, try clientContext(certificate: fx.chain("client-one"), max: version), serverName: "ecdsa.test")
            #expect(with.established, "\(version)")
        }
    }

    @Test func summaryKeepsAWrittenContextAndNamesTheAlertOtherwise() {
        #expect(TLSError(.badServerCertificate, "handshake: certificate verify failed: hostname mismatch").summary
            == "certificate verify failed: hostname mismatch")
        let alert = TLSError(.peerAlert, "read", details: ["error:0A00045C:SSL routines::tlsv13 alert certificate required"])
        #expect(alert.summary == "peer_alert: tlsv13 alert certificate required")
        #expect(TLSError(.handshakeTimeout, "no complete handshake within 2s").summary == "no complete handshake within 2s")
        #expect(TLSError(.unexpectedEOF, "handshake").summary == "unexpected_eof")
    }
}
