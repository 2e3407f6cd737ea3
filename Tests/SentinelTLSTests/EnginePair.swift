import SentinelTLS

/// A client engine and a server engine joined in memory: bytes shuttled both ways until
/// nothing moves (the handshake, tickets, data and alerts included).
final class EnginePair {
    let client: TLSEngine
    let server: TLSEngine
    var clientError: TLSError?
    var serverError: TLSError?
    var toClient: [UInt8] = []   // plaintext the client received
    var toServer: [UInt8] = []   // plaintext the server received
    var clientCompleted = false
    var serverCompleted = false
    var serverPeerClosed = false

    init(client: TLSEngine, server: TLSEngine) {
        self.client = client
        self.server = server
    }

    /// Builds both engines and runs the handshake.
    convenience init(_ contexts: TLSContextSet, _ clientContext: TLSClientContext, serverName: String?, session: TLSSession? = nil) throws {
        self.init(client: try TLSEngine(client: clientContext, serverName: serverName, session: session),
                  server: try TLSEngine(server: contexts))
        run()
    }

    var established: Bool { clientCompleted && serverCompleted && clientError == nil && serverError == nil }

    /// Shuttles until quiet.
    func run() {
        feed(client, [], into: &toClient, error: &clientError, completed: &clientCompleted)
        for _ in 0..<100 {
            var moved = false
            let c2s = client.takeOutput()
            if !c2s.isEmpty {
                moved = true
                var closed = false
                feed(server, c2s, into: &toServer, error: &serverError, completed: &serverCompleted, peerClosed: &closed)
                serverPeerClosed = serverPeerClosed || closed
            }
            let s2c = server.takeOutput()
            if !s2c.isEmpty {
                moved = true
                feed(client, s2c, into: &toClient, error: &clientError, completed: &clientCompleted)
            }
            if !moved { return }
        }
        fatalError("engines still talking after 100 rounds")
    }

    private func feed(_ engine: TLSEngine, _ bytes: [UInt8], into sink: inout [UInt8], error: inout TLSError?, completed: inout Bool) {
        var closed = false
        feed(engine, bytes, into: &sink, error: &error, completed: &completed, peerClosed: &closed)
    }

    private func feed(_ engine: TLSEngine, _ bytes: [UInt8], into sink: inout [UInt8], error failure: inout TLSError?,
                      completed: inout Bool, peerClosed: inout Bool) {
        guard failure == nil else { return }
        var plain = [UInt8](repeating: 0, count: 4096)
        var offset = 0
        repeat {
            do {
                let r = try bytes.withUnsafeBytes { all in
                    try plain.withUnsafeMutableBytes { out in
                        try engine.receive(UnsafeRawBufferPointer(rebasing: all[offset...]), into: out)
                    }
                }
                offset += r.consumed
                sink += plain[0..<r.plaintext]
                if r.handshakeCompleted { completed = true }
                if r.peerClosed { peerClosed = true; return }
                // Done when the input is used up and the plaintext buffer did not fill.
                if offset == bytes.count, r.plaintext < plain.count { return }
            } catch {
                failure = (error as? TLSError) ?? TLSError(.internal, "\(error)")
                return
            }
        } while true
    }

    func clientSends(_ text: String) throws {
        let bytes = Array(text.utf8)
        let n = try bytes.withUnsafeBytes { try client.send($0) }
        precondition(n == bytes.count)
        run()
    }

    func serverSends(_ text: String) throws {
        let bytes = Array(text.utf8)
        let n = try bytes.withUnsafeBytes { try server.send($0) }
        precondition(n == bytes.count)
        run()
    }
}

func clientContext(trust: TLSClientConfiguration.Trust? = nil, alpn: [String] = ["http/1.1"], certificate: TLSCertificateChain? = nil,
                   min: TLSVersion = .tls1_2, max: TLSVersion? = nil, cipherList: String? = nil, ocsp: Bool = false) throws -> TLSClientContext {
    var c = TLSClientConfiguration(trust: trust ?? .custom(Fixtures.shared.rootTrust))
    c.alpn = alpn
    c.certificate = certificate
    c.minVersion = min
    c.maxVersion = max
    c.cipherList = cipherList
    c.requestOCSPStaple = ocsp
    return try TLSClientContext(c)
}
