import Foundation
import SentinelTLS
import Testing

/// A listener with one host per fixture name (first = default unless `defaultHost` says otherwise).
func serverSet(_ listener: String = "web", hosts: [TLSServerHost], ring: TicketKeyRing? = nil,
               configure: (inout TLSServerConfiguration) -> Void = { _ in }) throws -> TLSContextSet {
    var c = TLSServerConfiguration(listener: listener, hosts: hosts)
    configure(&c)
    return try TLSContextSet(c, ticketKeys: ring)
}

func host(_ name: String, names: [String] = [], extra: [String] = [], ocsp: Bool = false,
          clientAuth: TLSClientAuthentication = .none) -> TLSServerHost {
    TLSServerHost(names: names, certificates: [Fixtures.shared.serverCert(name, extra: extra, ocsp: ocsp)], clientAuthentication: clientAuth)
}

/// The usual listener: default.test (default), rsa.test, ecdsa.test (with intermediate), *.wild.test, SAN-derived san.
func standardSet(ring: TicketKeyRing? = nil, configure: (inout TLSServerConfiguration) -> Void = { _ in }) throws -> TLSContextSet {
    try serverSet(hosts: [
        host("default", names: ["default.test"]),
        host("rsa", names: ["rsa.test"]),
        host("ecdsa", names: ["ecdsa.test"], extra: ["int.pem"], ocsp: true),
        host("wild", names: ["*.wild.test"]),
        host("san"),
    ], ring: ring, configure: configure)
}

@Suite("TLS engine pairs")
struct TLSEngineTests {
    let fx = Fixtures.shared

    @Test func handshakeALPNAndDataBothWays() throws {
        let pair = try EnginePair(try standardSet(), try clientContext(), serverName: "ecdsa.test")
        #expect(pair.established)
        let s = try #require(pair.server.facts)
        let c = try #require(pair.client.facts)
        #expect(s.version == .tls1_3 && c.version == .tls1_3)
        #expect(s.alpn == "http/1.1" && c.alpn == "http/1.1")
        #expect(s.serverName == "ecdsa.test")
        #expect(s.cipher == "TLS_AES_128_GCM_SHA256")
        #expect(s.group?.lowercased() == "x25519")
        #expect(!s.resumed)
        #expect(c.peerCertificate?.subject == "CN=ecdsa.test")
        #expect(!pair.server.isHandshaking)
        try pair.clientSends("GET / HTTP/1.1\r\n\r\n")
        #expect(String(decoding: pair.toServer, as: UTF8.self) == "GET / HTTP/1.1\r\n\r\n")
        try pair.serverSends("HTTP/1.1 200 OK\r\n\r\n")
        #expect(String(decoding: pair.toClient, as: UTF8.self) == "HTTP/1.1 200 OK\r\n\r\n")
        pair.client.close()
        pair.run()
        #expect(pair.serverPeerClosed)
        #expect(pair.server.state == .closed)
        #expect(pair.server.transportClosed() == nil)
    }

    @Test func sniPicksEachCertificate() throws {
        let set = try standardSet()
        let cases: [(String?, String)] = [
            ("rsa.test", "CN=rsa.test"), ("RSA.Test.", "CN=rsa.test"), ("ecdsa.test", "CN=ecdsa.test"),
            ("a.wild.test", "CN=*.wild.test"), ("san-a.test", "CN=san-a.test"), ("san-b.test", "CN=san-a.test"),
            ("default.test", "CN=default.test"), (nil, "CN=default.test"), ("unknown.test", "CN=default.test"),
            ("b.a.wild.test", "CN=default.test"), ("wild.test", "CN=default.test"),
        ]
        let ctx = try clientContext(trust: .insecureNoVerification)
        for (name, subject) in cases {
            let pair = try EnginePair(set, ctx, serverName: name)
            #expect(pair.established, "\(name ?? "no SNI")")
            #expect(pair.client.facts?.peerCertificate?.subject == subject, "\(name ?? "no SNI")")
        }
        #expect(set.serverNames["san-b.test"] == 4 && set.serverNames["*.wild.test"] == 3)
        // The RSA certificate is really served with an RSA key (and verifies by name).
        let rsa = try EnginePair(set, try clientContext(), serverName: "rsa.test")
        #expect(rsa.client.facts?.peerCertificate?.keyType == "RSA")
        #expect(rsa.client.facts?.cipher == "TLS_AES_128_GCM_SHA256")
    }

    @Test func explicitNamesWinOverCertificateNames() throws {
        // "san" covers san-a.test by its certificate; an explicit name on another host wins.
        let set = try serverSet(hosts: [host("san"), host("default", names: ["san-a.test"])])
        let pair = try EnginePair(set, try clientContext(trust: .insecureNoVerification), serverName: "san-a.test")
        #expect(pair.client.facts?.peerCertificate?.subject == "CN=default.test")
        // Without priority (the config's plain `hostnames`), certificate names win.
        var low = host("default", names: ["san-a.test", "only.test"])
        low.namesTakePriority = false
        let set2 = try serverSet(hosts: [host("san"), low])
        let p2 = try EnginePair(set2, try clientContext(trust: .insecureNoVerification), serverName: "san-a.test")
        #expect(p2.client.facts?.peerCertificate?.subject == "CN=san-a.test")
        let p3 = try EnginePair(set2, try clientContext(trust: .insecureNoVerification), serverName: "only.test")
        #expect(p3.client.facts?.peerCertificate?.subject == "CN=default.test")
        // A host with written names can also answer for its certificate's names.
        var both = host("rsa", names: ["alias.test"])
        both.includeCertificateNames = true
        let set3 = try serverSet(hosts: [host("default"), both])
        #expect(set3.serverNames == ["default.test": 0, "alias.test": 1, "rsa.test": 1])
    }

    @Test func strictSNIRefusesUnknownNames() throws {
        let set = try standardSet { $0.unknownServerName = .reject }
        let pair = try EnginePair(set, try clientContext(trust: .insecureNoVerification), serverName: "nope.test")
        #expect(pair.serverError?.reason == .unknownServerName)
        #expect(pair.clientError?.reason == .peerAlert || pair.clientError?.reason == .unknownServerName)
        // No SNI at all still gets the default certificate.
        #expect(try EnginePair(set, try clientContext(trust: .insecureNoVerification), serverName: nil).established)
    }

    @Test func dualCertificatesServeByKeyType() throws {
        let dual = TLSServerHost(names: ["dual.test"], certificates: [fx.serverCert("dualec"), fx.serverCert("dualrsa")])
        let set = try serverSet(hosts: [dual])
        let ecdsa = try EnginePair(set, try clientContext(max: .tls1_2, cipherList: "ECDHE-ECDSA-AES128-GCM-SHA256"), serverName: "dual.test")
        #expect(ecdsa.client.facts?.peerCertificate?.keyType == "EC")
        let rsa = try EnginePair(set, try clientContext(max: .tls1_2, cipherList: "ECDHE-RSA-AES128-GCM-SHA256"), serverName: "dual.test")
        #expect(rsa.client.facts?.peerCertificate?.keyType == "RSA")
    }

    @Test func legacyVersionsAreRefused() throws {
        let set = try standardSet()
        for v in [TLSVersion.tls1_0, .tls1_1] {
            let ctx = try clientContext(trust: .insecureNoVerification, min: v, max: v, cipherList: "DEFAULT:@SECLEVEL=0")
            let pair = try EnginePair(set, ctx, serverName: "ecdsa.test")
            #expect(pair.serverError?.reason == .protocolVersion, "\(v)")
            #expect(pair.clientError?.reason == .protocolVersion, "\(v)")
        }
        // The same legacy-capable client gets TLS 1.2 when it also offers 1.2.
        let ctx = try clientContext(trust: .insecureNoVerification, min: .tls1_0, max: .tls1_2, cipherList: "DEFAULT:@SECLEVEL=0")
        #expect(try EnginePair(set, ctx, serverName: "ecdsa.test").server.facts?.version == .tls1_2)
        // A server can never be configured below TLS 1.2.
        #expect(throws: TLSError.self) { try standardSet { $0.minVersion = .tls1_1 } }
    }

    @Test func minAndMaxVersion() throws {
        let only12 = try standardSet { $0.maxVersion = .tls1_2 }
        let p12 = try EnginePair(only12, try clientContext(), serverName: "ecdsa.test")
        #expect(p12.server.facts?.version == .tls1_2)
        #expect(p12.server.facts?.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256")
        let only13 = try standardSet { $0.minVersion = .tls1_3 }
        let refused = try EnginePair(only13, try clientContext(max: .tls1_2), serverName: "ecdsa.test")
        #expect(refused.serverError?.reason == .protocolVersion)
        #expect(try EnginePair(only13, try clientContext(), serverName: "ecdsa.test").server.facts?.version == .tls1_3)
    }

    @Test func weakCiphersAreRefusedAtConfigurationAndOnTheWire() throws {
        for bad in [["AES128-SHA"], ["ECDHE-RSA-AES128-SHA"], ["AES128-GCM-SHA256"]] {
            #expect(throws: TLSError.self) { try standardSet { $0.cipherSuites = bad + ["TLS_AES_128_GCM_SHA256"] } }
        }
        // A client offering only CBC or RSA key exchange gets no shared cipher.
        let set = try standardSet()
        let ctx = try clientContext(trust: .insecureNoVerification, max: .tls1_2, cipherList: "AES128-SHA:ECDHE-ECDSA-AES128-SHA:AES256-GCM-SHA384")
        let pair = try EnginePair(set, ctx, serverName: "ecdsa.test")
        #expect(pair.serverError?.reason == .noSharedCipher)
    }

    /// A grade-style sweep: offered alone over TLS 1.2, exactly the six default suites work
    /// (by certificate type) and every weaker one is refused.
    @Test func tls12CipherSweep() throws {
        let set = try serverSet(hosts: [host("ecdsa", names: ["ecdsa.test"], extra: ["int.pem"]), host("rsa", names: ["rsa.test"])])
        let accepted = [
            ("ECDHE-ECDSA-AES128-GCM-SHA256", "ecdsa.test"), ("ECDHE-ECDSA-AES256-GCM-SHA384", "ecdsa.test"),
            ("ECDHE-ECDSA-CHACHA20-POLY1305", "ecdsa.test"), ("ECDHE-RSA-AES128-GCM-SHA256", "rsa.test"),
            ("ECDHE-RSA-AES256-GCM-SHA384", "rsa.test"), ("ECDHE-RSA-CHACHA20-POLY1305", "rsa.test"),
        ]
        for (cipher, name) in accepted {
            let ctx = try clientContext(trust: .insecureNoVerification, max: .tls1_2, cipherList: cipher)
            #expect(try EnginePair(set, ctx, serverName: name).server.facts?.cipher == cipher, "\(cipher)")
        }
        let refused = [
            "AES128-SHA", "AES256-SHA256", "AES128-GCM-SHA256", "AES256-GCM-SHA384",
            "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES256-SHA",
            "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-CCM", "ECDHE-ECDSA-ARIA128-GCM-SHA256",
            "ECDHE-ECDSA-CAMELLIA128-SHA256", "ADH-AES128-SHA", "AECDH-AES128-SHA", "NULL-SHA256", "ECDHE-ECDSA-NULL-SHA",
        ]
        for cipher in refused {
            for name in ["ecdsa.test", "rsa.test"] {
                let ctx = try clientContext(trust: .insecureNoVerification, max: .tls1_2, cipherList: cipher + ":@SECLEVEL=0")
                let pair = try EnginePair(set, ctx, serverName: name)
                #expect(pair.server.facts == nil, "\(cipher) accepted for \(name)")
                #expect(pair.serverError?.reason == .noSharedCipher, "\(cipher) for \(name): \(String(describing: pair.serverError))")
            }
        }
    }

    @Test func alpnWithoutOverlapIsRefusedAndNoALPNIsFine() throws {
        let set = try standardSet()
        let h2only = try EnginePair(set, try clientContext(alpn: ["h2"]), serverName: "ecdsa.test")
        #expect(h2only.serverError?.reason == .noApplicationProtocol)
        let none = try EnginePair(set, try clientContext(alpn: []), serverName: "ecdsa.test")
        #expect(none.established && none.server.facts?.alpn == nil)
        let both = try EnginePair(set, try clientContext(alpn: ["h2", "http/1.1"]), serverName: "ecdsa.test")
        #expect(both.server.facts?.alpn == "http/1.1")
    }

    @Test func requiredClientCertificate() throws {
        let set = try serverSet(hosts: [host("ecdsa", names: ["ecdsa.test"], extra: ["int.pem"], clientAuth: .required(fx.clientTrust))])
        let without = try EnginePair(set, try clientContext(), serverName: "ecdsa.test")
        #expect(without.serverError?.reason == .clientCertificateRequired)
        let untrusted = try EnginePair(set, try clientContext(certificate: fx.chain("client-untrusted")), serverName: "ecdsa.test")
        #expect(untrusted.serverError?.reason == .badClientCertificate)
        #expect(untrusted.serverError?.context.contains("unable to get local issuer certificate") == true)
        let with = try EnginePair(set, try clientContext(certificate: fx.chain("client-one")), serverName: "ecdsa.test")
        #expect(with.established)
        let peer = try #require(with.server.facts?.peerCertificate)
        #expect(peer.subject == "CN=client-one,O=Sentinel Tests")
        #expect(peer.subjectAltNames == ["email:one@clients.test"])
        #expect(peer.sha256Fingerprint == fx.chain("client-one").leaf.sha256Fingerprint)
        #expect(peer.sha256Fingerprint.count == 64)
    }

    @Test func revokedClientCertificateIsRefusedWithCRL() throws {
        let withCRL = try TLSTrustStore(caPEM: fx.bytes("client-ca.pem"), crlPEM: fx.bytes("client-ca.crl"))
        let set = try serverSet(hosts: [host("ecdsa", names: ["ecdsa.test"], extra: ["int.pem"], clientAuth: .required(withCRL))])
        let revoked = try EnginePair(set, try clientContext(certificate: fx.chain("client-revoked")), serverName: "ecdsa.test")
        #expect(revoked.serverError?.reason == .badClientCertificate)
        #expect(revoked.serverError?.context.contains("revoked") == true)
        #expect(try EnginePair(set, try clientContext(certificate: fx.chain("client-one")), serverName: "ecdsa.test").established)
        // Without the CRL the same certificate is accepted.
        let noCRL = try serverSet(hosts: [host("ecdsa", names: ["ecdsa.test"], extra: ["int.pem"], clientAuth: .required(fx.clientTrust))])
        #expect(try EnginePair(noCRL, try clientContext(certificate: fx.chain("client-revoked")), serverName: "ecdsa.test").established)
    }

    @Test func optionalClientCertificate() throws {
        let set = try serverSet(hosts: [host("ecdsa", names: ["ecdsa.test"], extra: ["int.pem"], clientAuth: .optional(fx.clientTrust))])
        let without = try EnginePair(set, try clientContext(), serverName: "ecdsa.test")
        #expect(without.established && without.server.facts?.peerCertificate == nil)
        let with = try EnginePair(set, try clientContext(certificate: fx.chain("client-one")), serverName: "ecdsa.test")
        #expect(with.server.facts?.peerCertificate?.subject == "CN=client-one,O=Sentinel Tests")
        let untrusted = try EnginePair(set, try clientContext(certificate: fx.chain("client-untrusted")), serverName: "ecdsa.test")
        #expect(untrusted.serverError?.reason == .badClientCertificate)
    }

    @Test func clientRoleVerifiesTheServer() throws {
        let set = try serverSet(hosts: [host("ecdsa", names: ["ecdsa.test"], extra: ["int.pem"]), host("expired", names: ["expired.test"])])
        let wrongName = try EnginePair(set, try clientContext(), serverName: "other.test")
        #expect(wrongName.clientError?.reason == .badServerCertificate)
        let expired = try EnginePair(set, try clientContext(), serverName: "expired.test")
        #expect(expired.clientError?.reason == .badServerCertificate)
        #expect(expired.clientError?.context.contains("expired") == true)
        let untrusted = try EnginePair(set, try clientContext(trust: .custom(fx.clientTrust)), serverName: "ecdsa.test")
        #expect(untrusted.clientError?.reason == .badServerCertificate)
        // The system roots do not know the test CA.
        let system = try EnginePair(set, try clientContext(trust: .systemRoots), serverName: "ecdsa.test")
        #expect(system.clientError?.reason == .badServerCertificate)
        #expect(system.clientError?.context.contains("local issuer") == true)
        // An IP literal is verified as an IP (the certificate has none) and not sent as SNI.
        let ip = try EnginePair(set, try clientContext(), serverName: "127.0.0.1")
        #expect(ip.clientError?.reason == .badServerCertificate)
        #expect(ip.server.serverName == nil)
        // insecure-skip-verify accepts anything.
        #expect(try EnginePair(set, try clientContext(trust: .insecureNoVerification), serverName: "other.test").established)
        // Missing intermediate: the ecdsa leaf alone does not verify against the root.
        let noChain = try serverSet(hosts: [host("ecdsa", names: ["ecdsa.test"])])
        #expect(try EnginePair(noChain, try clientContext(), serverName: "ecdsa.test").clientError?.reason == .badServerCertificate)
    }

    @Test func ocspStapleIsDelivered() throws {
        let set = try standardSet()
        let asked = try EnginePair(set, try clientContext(ocsp: true), serverName: "ecdsa.test")
        #expect(asked.client.facts?.ocspResponse == fx.bytes("ecdsa.ocsp.der"))
        let notAsked = try EnginePair(set, try clientContext(), serverName: "ecdsa.test")
        #expect(notAsked.client.facts?.ocspResponse == nil)
        let noStaple = try EnginePair(set, try clientContext(ocsp: true), serverName: "rsa.test")
        #expect(noStaple.established && noStaple.client.facts?.ocspResponse == nil)
        // A file that is not an OCSP response is refused when the contexts are built.
        var bad = fx.serverCert("rsa")
        bad.ocspResponse = [0x30, 0x03, 0x02, 0x01, 0x00]
        #expect(throws: TLSError.self) { try serverSet(hosts: [TLSServerHost(certificates: [bad])]) }
    }

    @Test func pendingOutputIsBounded() throws {
        var limits = TLSLimits()
        limits.maxPendingOutput = 40_000
        let set = try standardSet { $0.limits = limits }
        let pair = try EnginePair(set, try clientContext(), serverName: "ecdsa.test")
        let big = [UInt8](repeating: 0x61, count: 200_000)
        let taken = try big.withUnsafeBytes { try pair.server.send($0) }
        #expect(taken < big.count && taken >= 32_768)
        #expect(pair.server.pendingOutputCount >= 40_000 && pair.server.pendingOutputCount < 40_000 + 17_000)
        pair.run()
        #expect(pair.toClient.count == taken)
        let rest = try big[taken...].withUnsafeBytes { try pair.server.send($0) }
        #expect(rest > 0)
    }

    /// A plaintext buffer smaller than what arrived: `consumed` says how far the engine got,
    /// the host offers the rest again, nothing is lost or repeated.
    @Test func smallPlaintextBufferGetsTheRestOnTheNextCall() throws {
        let pair = try EnginePair(try standardSet(), try clientContext(), serverName: "ecdsa.test")
        let message = (0..<30_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        _ = try message.withUnsafeBytes { try pair.client.send($0) }
        let wire = pair.client.takeOutput()
        var got: [UInt8] = []
        var small = [UInt8](repeating: 0, count: 1000)
        var offset = 0
        var calls = 0
        while got.count < message.count {
            calls += 1
            let r = try wire[offset...].withUnsafeBytes { i in try small.withUnsafeMutableBytes { try pair.server.receive(i, into: $0) } }
            offset += r.consumed
            got += small[0..<r.plaintext]
            #expect(r.plaintext <= 1000)
            if r.plaintext == 0 { break }
        }
        #expect(got == message)
        #expect(offset == wire.count)
        #expect(calls >= 30)
    }

    @Test func sendBeforeHandshakeIsAnError() throws {
        let engine = try TLSEngine(server: try standardSet())
        #expect(engine.isHandshaking)
        #expect(throws: TLSError.self) { try [UInt8(1)].withUnsafeBytes { try engine.send($0) } }
        #expect(engine.transportClosed()?.reason == .unexpectedEOF)
    }
}
