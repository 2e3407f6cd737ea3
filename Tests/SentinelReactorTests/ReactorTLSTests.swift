import Foundation
import SentinelReactor
import SentinelTestSupport
import SentinelTLS
import Testing

/// TLSEngine, unchanged, under a driver on the reactor: the TLS layer is a driver that wraps
/// another (here the echo) and translates its downstream actions through the engine.
@Suite struct ReactorTLSTests {
    @Test(arguments: [ReactorConfiguration.Triggering.edge, .level])
    func theReactorServesTLSThroughTLSEngine(_ triggering: ReactorConfiguration.Triggering) throws {
        let fx = HTTPSFixtures.shared
        let chain = try TLSCertificateChain(
            certificatePEM: Array(try Data(contentsOf: URL(fileURLWithPath: fx.path("default.pem")))),
            keyPEM: Array(try Data(contentsOf: URL(fileURLWithPath: fx.path("default.key")))), source: "default")
        let contexts = try TLSContextSet(
            TLSServerConfiguration(listener: "web", hosts: [TLSServerHost(names: ["default.test"], certificates: [TLSServerCertificate(chain: chain)])]),
            ticketKeys: nil)
        let trust = try TLSTrustStore(caPEM: Array(try Data(contentsOf: URL(fileURLWithPath: fx.path("root.pem")))), source: "root.pem")
        let clientContext = try TLSClientContext(TLSClientConfiguration(trust: .custom(trust)))

        let (lfd, port) = try makeListener()
        defer { close(lfd) }
        var config = ReactorConfiguration()
        config.triggering = triggering
        let serverContexts = contexts
        let reactor = try ReactorHandle.start(config) { r in
            r.addListener(fd: lfd) { _ in
                guard let engine = try? TLSEngine(server: serverContexts) else { return nil }
                return TLSServerLayer(engine: engine, inner: EchoDriver())
            }
            r.setAccepting(true)
        }
        defer { reactor.stop() }

        let client = try Client(port: port)
        defer { client.close() }
        let tls = try BlockingTLSClient(client, TLSEngine(client: clientContext, serverName: "default.test"))
        try tls.handshake()
        #expect(tls.engine.facts?.serverName == "default.test")
        try tls.send(Array("hello over TLS".utf8))
        #expect(try tls.receive(exactly: 14) == Array("hello over TLS".utf8))
        // Many records each way, through the echo's backpressure.
        let big = pattern(120_000)
        try tls.send(big)
        #expect(try tls.receive(exactly: big.count) == big)
        // close_notify from the client: the echo closes, the layer answers with its own.
        tls.engine.close()
        try tls.writePending()
        client.shutdownOutput()
        #expect(try reactor.waitForNoSessions())
    }
}

/// The test's client side: a TLSEngine over a blocking socket.
final class BlockingTLSClient {
    let socket: Client
    let engine: TLSEngine
    var plaintext: [UInt8] = []

    init(_ socket: Client, _ engine: TLSEngine) throws {
        self.socket = socket
        self.engine = engine
    }

    func writePending() throws {
        while engine.pendingOutputCount > 0 {
            let out = engine.takeOutput()
            try socket.send(out)
        }
    }

    func pump() throws {
        var chunk = [UInt8](repeating: 0, count: 16384)
        let n = chunk.withUnsafeMutableBytes { recv(socket.fd, $0.baseAddress!, $0.count, 0) }
        guard n > 0 else { throw TestFailure("TLS client: connection ended (\(n))") }
        try feed(Array(chunk[0..<n]))
        try writePending()
    }

    func feed(_ bytes: [UInt8]) throws {
        var plain = [UInt8](repeating: 0, count: 16384)
        var offset = 0
        while true {
            let r = try bytes.withUnsafeBytes { all in
                try plain.withUnsafeMutableBytes { try engine.receive(UnsafeRawBufferPointer(rebasing: all[offset...]), into: $0) }
            }
            offset += r.consumed
            plaintext += plain[0..<r.plaintext]
            if r.peerClosed || (offset == bytes.count && r.plaintext < plain.count) { return }
        }
    }

    func handshake() throws {
        try feed([])
        try writePending()
        while engine.isHandshaking { try pump() }
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            offset += try bytes.withUnsafeBytes { try engine.send(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            try writePending()
        }
    }

    func receive(exactly count: Int) throws -> [UInt8] {
        while plaintext.count < count { try pump() }
        let out = Array(plaintext[0..<count])
        plaintext.removeFirst(count)
        return out
    }
}
