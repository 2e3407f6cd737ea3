import Foundation
import SentinelReactor
import SentinelTLS
import SentinelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import SentinelProxy

/// The reactor's HTTPS connection (`ReactorTLSServer` over `HTTP1ReactorDriver`) without
/// sockets: a real `TLSEngine` client on one side, the driver's actions on the other, on a
/// manual clock. Socket-level behaviour (real `openssl s_client` and `curl`, both data paths)
/// is in HTTPSListenerTests, ClientCertificateListenerTests and TLSBoundsTests.
@Suite struct ReactorTLSServerTests {
    let fx = HTTPSFixtures.shared

    func contexts(unknownServerName: UnknownServerNamePolicy = .useDefault) throws -> TLSContextSet {
        let chain = try TLSCertificateChain(
            certificatePEM: Array(try Data(contentsOf: URL(fileURLWithPath: fx.path("default.pem")))),
            keyPEM: Array(try Data(contentsOf: URL(fileURLWithPath: fx.path("default.key")))), source: "default")
        var config = TLSServerConfiguration(
            listener: "main", hosts: [TLSServerHost(names: ["default.test"], certificates: [TLSServerCertificate(chain: chain)])])
        config.unknownServerName = unknownServerName
        return try TLSContextSet(config, ticketKeys: nil)
    }

    func client(serverName: String = "default.test", alpn: [String]? = nil) throws -> TLSEngine {
        let trust = try TLSTrustStore(caPEM: Array(try Data(contentsOf: URL(fileURLWithPath: fx.path("root.pem")))), source: "root.pem")
        return try TLSEngine(client: try TLSClientContext(TLSClientConfiguration(trust: .custom(trust))), serverName: serverName, alpn: alpn)
    }

    /// One connection: the rig, the layer over a fresh HTTP/1 driver, its metrics.
    struct Conn {
        let rig: DriverRig
        let layer: ReactorTLSServer
        let metrics = TLSMetrics()

        init(_ contexts: TLSContextSet, handshakeTimeout: Duration = .seconds(10)) throws {
            rig = try DriverRig()
            layer = try ReactorTLSServer(
                tls: ListenerTLS(contexts: contexts, handshakeTimeout: handshakeTimeout), inner: rig.driver(), listenerID: "main",
                metrics: metrics, gate: nil)
        }

        struct Out {
            var bytes: [UInt8] = []
            var finish: SentinelReactor.CloseMode?
            var deadline: ReactorInstant??
            var reading: Bool?
        }

        func play(_ body: (inout DriverIO) -> Void) -> Out {
            var io = DriverIO(now: ReactorInstant(milliseconds: rig.clock.now / 1_000_000), pool: rig.pool, session: 1)
            body(&io)
            var out = Out()
            for action in io.actions {
                switch action {
                case .write(let e, let b):
                    #expect(e == .downstream)
                    out.bytes += b.readable
                case .finish(let m), .close(_, let m): out.finish = m
                case .deadline(let d): out.deadline = .some(d)
                case .reading(_, let on): out.reading = on
                case .connect: Issue.record("no upstream here")
                }
            }
            return out
        }

        /// Hands `bytes` to the layer `chunk` bytes per read.
        func feed(_ bytes: [UInt8], chunk: Int = 16 * 1024) -> Out {
            var all = Out()
            var offset = 0
            while offset < bytes.count {
                let n = min(chunk, bytes.count - offset)
                let out = play { io in
                    let b = rig.pool.take()
                    _ = bytes[offset..<offset + n].withUnsafeBytes { b.append($0) }
                    layer.received(b, on: .downstream, &io)
                }
                offset += n
                all.bytes += out.bytes
                if let f = out.finish { all.finish = f }
                if let d = out.deadline { all.deadline = d }
            }
            return all
        }

        func advance(by ms: UInt64) { rig.clock.set(rig.clock.now + ms * 1_000_000) }
    }

    /// The client engine's output for `input` from the server, and its plaintext.
    func clientStep(_ engine: TLSEngine, _ input: [UInt8]) throws -> (output: [UInt8], plaintext: [UInt8]) {
        var plain = [UInt8](repeating: 0, count: 32 * 1024)
        var text: [UInt8] = []
        var offset = 0
        repeat {
            let r = try input.withUnsafeBytes { all in
                try plain.withUnsafeMutableBytes { try engine.receive(UnsafeRawBufferPointer(rebasing: all[offset...]), into: $0) }
            }
            offset += r.consumed
            text += plain[0..<r.plaintext]
            if r.peerClosed || r.plaintext < plain.count && (offset == input.count || r.consumed == 0) { break }
        } while true
        return (engine.takeOutput(), text)
    }

    func encrypt(_ engine: TLSEngine, _ text: String) throws -> [UInt8] {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count { offset += try bytes.withUnsafeBytes { try engine.send(UnsafeRawBufferPointer(rebasing: $0[offset...])) } }
        return engine.takeOutput()
    }

    /// Handshake flights and one request, every byte a read of its own: the handshake completes,
    /// the facts reach the HTTP side, the answer comes back encrypted.
    @Test func aHandshakeSplitIntoOneByteReadsCompletes() throws {
        let c = try Conn(try contexts())
        let started = c.play { c.layer.start(&$0) }
        // The earlier of the handshake deadline (10 s) and the head's (30 s).
        #expect(started.deadline == .some(ReactorInstant(milliseconds: c.rig.clock.now / 1_000_000 + 10_000)))
        let engine = try client()
        var toServer = try clientStep(engine, []).output
        var rounds = 0
        while engine.isHandshaking, rounds < 8 {
            let out = c.feed(toServer, chunk: 1)
            #expect(out.finish == nil)
            toServer = try clientStep(engine, out.bytes).output
            rounds += 1
        }
        #expect(!engine.isHandshaking)
        toServer += try encrypt(engine, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        let answer = c.feed(toServer, chunk: 1)
        let text = String(decoding: try clientStep(engine, answer.bytes).plaintext, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(text)")
        #expect(c.metrics.count(listener: "main", outcome: "full", failed: false) == 1)
        #expect(c.layer.inner.connection.connectionTLS?.facts.serverName == "default.test")
        // The handshake deadline is gone: the head's remains.
        #expect(c.layer.failure == nil)
        // close_notify from the client: answered with ours, the session finishes.
        engine.close()
        let closed = c.feed(engine.takeOutput())
        #expect(closed.finish == .afterFlush)
        #expect(try clientStep(engine, closed.bytes).plaintext.isEmpty)
        #expect(engine.state == .closed)
    }

    /// A client that stops halfway through its ClientHello is closed at the handshake deadline
    /// and counted as a timeout.
    @Test func aClientThatStallsMidHandshakeIsClosedAtTheDeadline() throws {
        let c = try Conn(try contexts(), handshakeTimeout: .seconds(2))
        _ = c.play { c.layer.start(&$0) }
        let hello = try clientStep(try client(), []).output
        let half = c.feed(Array(hello.prefix(hello.count / 2)))
        #expect(half.bytes.isEmpty && half.finish == nil)
        c.advance(by: 1_500)
        // Early: nothing happens (the reactor may call at any time after the deadline only, but
        // a stale wheel entry must not cut the connection).
        #expect(c.play { c.layer.deadlineReached(&$0) }.finish == nil)
        c.advance(by: 600)
        let fired = c.play { c.layer.deadlineReached(&$0) }
        #expect(fired.finish == .afterFlush)
        #expect(c.layer.failure?.reason == .handshakeTimeout)
        #expect(c.metrics.count(listener: "main", outcome: "timeout", failed: true) == 1)
    }

    /// A reset in the middle of the handshake: counted once as a connection cut off during the
    /// handshake, and the HTTP side hears the connection closed.
    @Test func aPeerResetMidHandshakeIsCountedOnce() throws {
        let c = try Conn(try contexts())
        _ = c.play { c.layer.start(&$0) }
        let hello = try clientStep(try client(), []).output
        _ = c.feed(Array(hello.prefix(40)))
        let out = c.play { c.layer.failed(.downstream, ReactorError(.read, errno: ECONNRESET), &$0) }
        #expect(out.finish == .reset)
        #expect(c.metrics.count(listener: "main", outcome: "unexpected_eof", failed: true) == 1)
        // Nothing more is counted for the same connection.
        _ = c.play { c.layer.inputEnded(on: .downstream, &$0) }
        #expect(c.metrics.count(listener: "main", outcome: "unexpected_eof", failed: true) == 1)
    }

    /// With the strict policy, an unknown server name gets an alert and the connection ends.
    @Test func anUnknownServerNameIsRefusedWithAnAlertWhenStrict() throws {
        let c = try Conn(try contexts(unknownServerName: .reject))
        _ = c.play { c.layer.start(&$0) }
        let engine = try client(serverName: "nope.test")
        let out = c.feed(try clientStep(engine, []).output)
        #expect(out.finish == .afterFlush)
        #expect(out.bytes.first == 0x15, "an alert record")
        #expect(c.layer.failure?.reason == .unknownServerName)
        #expect(c.metrics.count(listener: "main", outcome: "unknown_sni", failed: true) == 1)
        #expect(throws: TLSError.self) { _ = try clientStep(engine, out.bytes) }
    }

    /// ALPN: http/1.1 is chosen; a client offering only h2 is refused, as on NIO.
    @Test func alpnChoosesHTTP11AndRefusesH2Only() throws {
        let ok = try Conn(try contexts())
        _ = ok.play { ok.layer.start(&$0) }
        let engine = try client(alpn: ["h2", "http/1.1"])
        let flight = ok.feed(try clientStep(engine, []).output)
        _ = ok.feed(try clientStep(engine, flight.bytes).output)
        #expect(engine.facts?.alpn == "http/1.1")
        #expect(ok.metrics.count(listener: "main", outcome: "full", failed: false) == 1)

        let h2 = try Conn(try contexts())
        _ = h2.play { h2.layer.start(&$0) }
        let refused = h2.feed(try clientStep(try client(alpn: ["h2"]), []).output)
        #expect(refused.finish == .afterFlush)
        #expect(h2.metrics.count(listener: "main", outcome: "no_alpn", failed: true) == 1)
    }
}
