import SentinelTLS
import Testing

/// Session tickets: one key ring shared by separately built context sets (= other workers, other
/// generations), rotation, and the binding that stops a ticket from resuming under another policy.
@Suite("TLS resumption")
struct ResumptionTests {
    let fx = Fixtures.shared

    /// A full handshake on `first`, then a resumption attempt on `second` with the session.
    func resume(_ first: TLSContextSet, _ second: TLSContextSet, client: TLSClientContext, name: String = "ecdsa.test",
                secondName: String? = nil) throws -> (first: EnginePair, second: EnginePair) {
        let a = try EnginePair(first, client, serverName: name)
        #expect(a.established)
        let session = try #require(a.client.session)
        #expect(session.isResumable)
        let b = try EnginePair(second, client, serverName: secondName ?? name, session: session)
        return (a, b)
    }

    @Test(arguments: [TLSVersion.tls1_2, .tls1_3])
    func ticketResumesOnAnotherWorker(version: TLSVersion) throws {
        let ring = try TicketKeyRing.random()
        let workerA = try standardSet(ring: ring)
        let workerB = try standardSet(ring: ring)
        let (a, b) = try resume(workerA, workerB, client: try clientContext(max: version))
        #expect(a.server.facts?.resumed == false)
        #expect(b.established)
        #expect(b.server.facts?.resumed == true && b.client.facts?.resumed == true)
        #expect(b.server.facts?.version == version)
        if version == .tls1_3 {
            // A fresh single-use ticket after every TLS 1.3 resumption, and it resumes again.
            let next = try #require(b.client.session)
            #expect(next.ticketFingerprint != a.client.session?.ticketFingerprint)
            #expect(try EnginePair(workerA, try clientContext(max: version), serverName: "ecdsa.test", session: next).server.facts?.resumed == true)
        }
        #expect(b.server.facts?.serverName == "ecdsa.test")
    }

    /// Regression: freeing a client engine without a close_notify made OpenSSL mark its session
    /// not resumable (SSL_free → ssl_clear_bad_session), so an upstream pool that drops
    /// connections could never resume. Only a failed connection's session is given up.
    @Test(arguments: [TLSVersion.tls1_2, .tls1_3])
    func sessionOutlivesItsConnection(version: TLSVersion) throws {
        let set = try standardSet(ring: try .random())
        let client = try clientContext(max: version)
        var session: TLSSession?
        do {
            let a = try EnginePair(set, client, serverName: "ecdsa.test")
            session = a.client.session
        }  // both engines freed here, no close_notify sent
        let s = try #require(session)
        #expect(s.isResumable)
        let b = try EnginePair(set, client, serverName: "ecdsa.test", session: s)
        #expect(b.server.facts?.resumed == true)
        // A resumed connection's renewed session survives it too.
        var renewed: TLSSession?
        do {
            let c = try EnginePair(set, client, serverName: "ecdsa.test", session: b.client.session)
            renewed = c.client.session
        }
        #expect(renewed?.isResumable == true)
    }

    @Test func anotherRingDoesNotResume() throws {
        let (_, b) = try resume(try standardSet(ring: try .random()), try standardSet(ring: try .random()), client: try clientContext())
        #expect(b.established && b.server.facts?.resumed == false)
    }

    @Test func emptyRingIssuesNoUsableTicket() throws {
        let set = try standardSet(ring: TicketKeyRing())
        let a = try EnginePair(set, try clientContext(), serverName: "ecdsa.test")
        #expect(a.established)
        if let s = a.client.session {
            let b = try EnginePair(set, try clientContext(), serverName: "ecdsa.test", session: s)
            #expect(b.server.facts?.resumed == false)
        }
        // session-resumption off: no ticket either.
        let off = try standardSet(ring: try .random()) { $0.sessionResumption = false }
        let c = try EnginePair(off, try clientContext(), serverName: "ecdsa.test")
        if let s = c.client.session {
            #expect(try EnginePair(off, try clientContext(), serverName: "ecdsa.test", session: s).server.facts?.resumed == false)
        }
    }

    @Test(arguments: [TLSVersion.tls1_2, .tls1_3])
    func rotationAcceptsThePreviousKeyAndRenews(version: TLSVersion) throws {
        let ring = try TicketKeyRing.random()
        let set = try standardSet(ring: ring)
        let client = try clientContext(max: version)
        let first = try EnginePair(set, client, serverName: "ecdsa.test")
        let oldSession = try #require(first.client.session)
        let before = ring.keyNames
        try ring.rotate()
        #expect(ring.keyNames.previous == before.current && ring.keyNames.current == before.next)
        // A new generation's contexts, same ring: the ticket under the previous key still resumes…
        let later = try EnginePair(try standardSet(ring: ring), client, serverName: "ecdsa.test", session: oldSession)
        #expect(later.server.facts?.resumed == true)
        // …and a new ticket (under the current key) was issued.
        let renewed = try #require(later.client.session)
        #expect(renewed.ticketFingerprint != oldSession.ticketFingerprint && !renewed.ticketFingerprint.isEmpty)
        try ring.rotate()
        try ring.rotate()
        // Two more rotations: the old key is gone, the renewed ticket's key is previous.
        #expect(try EnginePair(set, client, serverName: "ecdsa.test", session: oldSession).server.facts?.resumed == false)
        #expect(try EnginePair(set, client, serverName: "ecdsa.test", session: renewed).server.facts?.resumed == false)
    }

    @Test func installedKeysFromTheMaster() throws {
        func key(_ byte: UInt8) throws -> TicketKey {
            try [UInt8](repeating: byte, count: 80).withUnsafeBytes { try TicketKey(bytes: $0) }
        }
        let workerA = TicketKeyRing()
        let workerB = TicketKeyRing()
        workerA.install(previous: try key(1), current: try key(2), next: try key(3))
        workerB.install(previous: try key(1), current: try key(2), next: try key(3))
        let (_, b) = try resume(try standardSet(ring: workerA), try standardSet(ring: workerB), client: try clientContext())
        #expect(b.server.facts?.resumed == true)
        #expect(throws: TLSError.self) { try [UInt8](repeating: 0, count: 79).withUnsafeBytes { try TicketKey(bytes: $0) } }
        #expect(try key(7).description == "TicketKey(07070707070707070707070707070707)")
        // A key drawn by the next master: B resumes A's ticket only while the key is in its ring.
        workerB.install(previous: try key(2), current: try key(3), next: try key(4))
        let (_, c) = try resume(try standardSet(ring: workerA), try standardSet(ring: workerB), client: try clientContext())
        #expect(c.server.facts?.resumed == true)
        workerB.install(previous: try key(3), current: try key(4), next: try key(5))
        let (_, d) = try resume(try standardSet(ring: workerA), try standardSet(ring: workerB), client: try clientContext())
        #expect(d.server.facts?.resumed == false)
    }

    /// nginx CVE-2014-3616: a ticket from a host without client certificates must not resume on
    /// a host that requires them (same key ring, other listener).
    @Test(arguments: [TLSVersion.tls1_2, .tls1_3])
    func ticketFromOpenListenerDoesNotResumeOnMTLSListener(version: TLSVersion) throws {
        let ring = try TicketKeyRing.random()
        let open = try serverSet("public", hosts: [host("ecdsa", names: ["ecdsa.test"], extra: ["int.pem"])], ring: ring)
        let mtls = try serverSet("private", hosts: [host("ecdsa", names: ["ecdsa.test"], extra: ["int.pem"], clientAuth: .required(fx.clientTrust))], ring: ring)
        // A client without a certificate gets a ticket on the open listener…
        let (_, b) = try resume(open, mtls, client: try clientContext(max: version))
        // …and the mTLS listener makes it do a full handshake, which fails for want of a certificate.
        #expect(b.server.facts == nil)
        #expect(b.serverError?.reason == .clientCertificateRequired)
        #expect(b.server.ticketRefusedByBinding)
        // Same listener id and certificate but another policy: still refused.
        let mtlsSameName = try serverSet("public", hosts: [host("ecdsa", names: ["ecdsa.test"], extra: ["int.pem"], clientAuth: .required(fx.clientTrust))], ring: ring)
        let (_, c) = try resume(open, mtlsSameName, client: try clientContext(max: version))
        #expect(c.serverError?.reason == .clientCertificateRequired)
    }

    /// The same, between two hosts of one listener chosen by SNI.
    @Test(arguments: [TLSVersion.tls1_2, .tls1_3])
    func ticketFromOpenHostDoesNotResumeOnMTLSHost(version: TLSVersion) throws {
        let ring = try TicketKeyRing.random()
        let set = try serverSet(hosts: [
            host("wild", names: ["open.wild.test"]),
            host("wild", names: ["mtls.wild.test"], clientAuth: .required(fx.clientTrust)),
        ], ring: ring)
        let client = try clientContext(max: version)
        let (_, b) = try resume(set, set, client: client, name: "open.wild.test", secondName: "mtls.wild.test")
        #expect(b.server.facts?.resumed != true)
        #expect(b.serverError?.reason == .clientCertificateRequired)
        // With a certificate the full handshake succeeds and the subject is the client's.
        let withCert = try clientContext(certificate: fx.chain("client-one"), max: version)
        let (_, c) = try resume(set, set, client: withCert, name: "open.wild.test", secondName: "mtls.wild.test")
        #expect(c.server.facts?.resumed == false)
        #expect(c.server.facts?.peerCertificate?.subject == "CN=client-one,O=Sentinel Tests")
        // A ticket of the mTLS host resumes there, with the client certificate remembered.
        let (_, d) = try resume(set, set, client: withCert, name: "mtls.wild.test")
        #expect(d.server.facts?.resumed == true)
        #expect(d.server.facts?.peerCertificate?.subject == "CN=client-one,O=Sentinel Tests")
    }
}
