import Foundation
import SentinelTLS
import Testing

/// The real `openssl s_client` as the peer, over a real loopback socket.
@Suite("TLS with openssl s_client")
struct SClientTests {
    let fx = Fixtures.shared

    @Test func eachServerNameGetsItsCertificate() throws {
        let set = try standardSet()
        for (name, subject) in [("rsa.test", "CN = rsa.test"), ("ecdsa.test", "CN = ecdsa.test"), ("x.wild.test", "CN = *.wild.test"),
                                ("san-b.test", "CN = san-a.test"), ("unknown.test", "CN = default.test")] {
            let server = try LoopbackServer(contexts: set)
            let r = try sClient(port: server.port, ["-servername", name, "-CAfile", fx.path("root.pem"), "-alpn", "http/1.1"])
            let outcome = try #require(try server.finish().first)
            #expect(r.stdout.contains("subject=\(subject)"), "\(name): \(r.stdout)")
            #expect(r.stdout.contains("ALPN protocol: http/1.1"), "\(name)")
            #expect(r.stdout.contains("hello from sentinel"), "\(name)")
            #expect(outcome.facts?.serverName == name)
            #expect(outcome.error == nil)
        }
        // ecdsa.test's chain verifies (the intermediate is served).
        let server = try LoopbackServer(contexts: set)
        let r = try sClient(port: server.port, ["-servername", "ecdsa.test", "-CAfile", fx.path("root.pem"), "-verify_return_error", "-verify_hostname", "ecdsa.test"])
        _ = try server.finish()
        #expect(r.stdout.contains("Verify return code: 0 (ok)"), "\(r.stdout)")
        #expect(r.status == 0)
    }

    @Test(arguments: ["-tls1", "-tls1_1"])
    func legacyVersionsAreRefused(flag: String) throws {
        let server = try LoopbackServer(contexts: try standardSet())
        let r = try sClient(port: server.port, [flag, "-cipher", "DEFAULT@SECLEVEL=0", "-servername", "ecdsa.test"])
        let outcome = try #require(try server.finish().first)
        #expect(r.status != 0)
        #expect(outcome.error?.reason == .protocolVersion, "\(String(describing: outcome.error))")
    }

    @Test func weakCipherOnlyClientIsRefused() throws {
        let server = try LoopbackServer(contexts: try standardSet())
        let r = try sClient(port: server.port, ["-tls1_2", "-cipher", "AES128-SHA:ECDHE-ECDSA-AES128-SHA256", "-servername", "ecdsa.test"])
        let outcome = try #require(try server.finish().first)
        #expect(r.status != 0)
        #expect(outcome.error?.reason == .noSharedCipher)
    }

    @Test func resumptionAcrossTwoSeparatelyBuiltServers() throws {
        let ring = try TicketKeyRing.random()
        let session = fx.path("sess-\(UUID().uuidString).pem")
        for version in ["-tls1_3", "-tls1_2"] {
            let first = try LoopbackServer(contexts: try standardSet(ring: ring))
            let a = try sClient(port: first.port, [version, "-servername", "ecdsa.test", "-sess_out", session])
            #expect(try first.finish().first?.facts?.resumed == false)
            #expect(a.stdout.contains("New, TLSv1"), "\(a.stdout)")
            let second = try LoopbackServer(contexts: try standardSet(ring: ring))
            let b = try sClient(port: second.port, [version, "-servername", "ecdsa.test", "-sess_in", session])
            #expect(try second.finish().first?.facts?.resumed == true)
            #expect(b.stdout.contains("Reused, TLSv1"), "\(version): \(b.stdout)")
            // A server with another ring does a full handshake.
            let third = try LoopbackServer(contexts: try standardSet(ring: try .random()))
            let c = try sClient(port: third.port, [version, "-servername", "ecdsa.test", "-sess_in", session])
            _ = try third.finish()
            #expect(c.stdout.contains("New, TLSv1"), "\(version): \(c.stdout)")
        }
    }

    @Test func mutualTLS() throws {
        let set = try serverSet(hosts: [host("ecdsa", names: ["ecdsa.test"], extra: ["int.pem"], clientAuth: .required(fx.clientTrust))])
        let refused = try LoopbackServer(contexts: set)
        _ = try sClient(port: refused.port, ["-servername", "ecdsa.test"])
        #expect(try refused.finish().first?.error?.reason == .clientCertificateRequired)
        let accepted = try LoopbackServer(contexts: set)
        let r = try sClient(port: accepted.port, ["-servername", "ecdsa.test", "-cert", fx.path("client-one.pem"), "-key", fx.path("client-one.key")])
        let outcome = try #require(try accepted.finish().first)
        #expect(r.stdout.contains("hello from sentinel"))
        #expect(outcome.facts?.peerCertificate?.subject == "CN=client-one,O=Sentinel Tests")
        // The CertificateRequest names the client CA.
        #expect(r.stdout.contains("Acceptable client certificate CA names\nCN = Sentinel Test Client CA"), "\(r.stdout)")
    }

    /// A key share for a group the server does not take (P-521) makes it ask again
    /// (HelloRetryRequest): the ClientHello callback runs twice and must pick the same host.
    @Test func helloRetryRequestKeepsTheSNIHost() throws {
        let server = try LoopbackServer(contexts: try standardSet())
        let r = try sClient(port: server.port, ["-tls1_3", "-groups", "P-521:P-256", "-servername", "rsa.test", "-msg"])
        let outcome = try #require(try server.finish().first)
        #expect(r.stdout.contains("subject=CN = rsa.test"), "\(r.stdout)")
        #expect(outcome.facts?.group == "secp256r1")
        #expect(r.stdout.contains("ServerHello") && r.stdout.components(separatedBy: "ClientHello").count - 1 == 2, "two ClientHellos")
    }

    @Test func ocspStaple() throws {
        let server = try LoopbackServer(contexts: try standardSet())
        let r = try sClient(port: server.port, ["-servername", "ecdsa.test", "-status"])
        _ = try server.finish()
        #expect(r.stdout.contains("OCSP Response Status: successful"), "\(r.stdout)")
    }

    @Test func tls12SignalsSecureRenegotiationAndServesP256() throws {
        let server = try LoopbackServer(contexts: try standardSet())
        let r = try sClient(port: server.port, ["-tls1_2", "-servername", "ecdsa.test"])
        _ = try server.finish()
        #expect(r.stdout.contains("Secure Renegotiation IS supported"))  // RFC 5746 signalling (renegotiation itself is off: SSL_OP_NO_RENEGOTIATION)
        #expect(r.stdout.contains("Server public key is 256 bit"))
    }

    /// The server acknowledges the name it used (an empty server_name extension, RFC 6066 §3),
    /// as nginx does; TLS grade tools list it among the server's extensions. No name, no ack.
    @Test(arguments: ["-tls1_2", "-tls1_3"])
    func serverNameIsAcknowledged(version: String) throws {
        let server = try LoopbackServer(contexts: try standardSet())
        let r = try sClient(port: server.port, [version, "-servername", "ecdsa.test", "-tlsextdebug"])
        _ = try server.finish()
        #expect(r.stdout.contains("TLS server extension \"server name\" (id=0), len=0"), "\(r.stdout)")
        let none = try LoopbackServer(contexts: try standardSet())
        let n = try sClient(port: none.port, [version, "-noservername", "-tlsextdebug"])
        _ = try none.finish()
        #expect(n.stdout.contains("Server certificate"), "\(n.stdout)")
        #expect(!n.stdout.contains("TLS server extension \"server name\""), "\(n.stdout)")
    }

    /// A client limited to P-384 (some FIPS profiles) is served, as by nginx's defaults.
    @Test func p384OnlyClientIsServed() throws {
        let server = try LoopbackServer(contexts: try standardSet())
        let r = try sClient(port: server.port, ["-groups", "P-384", "-servername", "ecdsa.test"])
        let outcome = try #require(try server.finish().first)
        #expect(outcome.facts?.group == "secp384r1", "\(r.stdout)")
    }
}
