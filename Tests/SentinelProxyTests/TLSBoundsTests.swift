import Foundation
import SentinelConfig
import SentinelRuntime
import SentinelTLS
import SentinelTestSupport
import Synchronization
import Testing

@testable import SentinelProxy

/// Bounds of HTTPS listeners: the handshake deadline against a stalled ClientHello, the cap on
/// handshakes in flight per process (`limits { max-tls-handshakes }`), and the certificate
/// expiry metric.
@Suite(.serialized) struct TLSBoundsTests {
    let fx = HTTPSFixtures.shared

    // MARK: The gate (pure)

    @Test func gateGrantsUpToTheLimitThenQueuesFirstComeFirstServed() {
        let gate = HandshakeGate()
        let granted = Mutex<[Int]>([])
        #expect(gate.acquire(limit: 2) { Issue.record("granted at once") } == nil)
        #expect(gate.acquire(limit: 2) { Issue.record("granted at once") } == nil)
        let w1 = gate.acquire(limit: 2) { granted.withLock { $0.append(1) } }
        let w2 = gate.acquire(limit: 2) { granted.withLock { $0.append(2) } }
        let w3 = gate.acquire(limit: 2) { granted.withLock { $0.append(3) } }
        #expect(w1 != nil && w2 != nil && w3 != nil)
        #expect(gate.inFlight == 2 && gate.waiting == 3)
        // The second waiter gives up; a release hands the slot to the first, the next to the third.
        #expect(gate.cancel(w2!))
        gate.release()
        gate.release()
        #expect(granted.withLock { $0 } == [1, 3])
        #expect(gate.inFlight == 2 && gate.waiting == 0)
        // Cancelling a waiter that was already granted says so.
        #expect(!gate.cancel(w1!))
        gate.release()
        gate.release()
        #expect(gate.inFlight == 0)
    }

    @Test func cancelledWaitersDoNotGrowTheQueue() {
        let gate = HandshakeGate()
        _ = gate.acquire(limit: 1) {}
        for _ in 0..<10_000 {
            let id = gate.acquire(limit: 1) {}
            gate.cancel(id!)
        }
        #expect(gate.waiting == 0)
        gate.release()
        #expect(gate.inFlight == 0)
    }

    // MARK: Real sockets

    func config(limit: Int? = nil, timeout: Int = 30) -> String {
        """
        system { worker-threads 1 }
        \(limit.map { "limits { max-tls-handshakes \($0) }" } ?? "")
        listeners {
            listener "tls" {
                address "127.0.0.1:0"
                protocol "https"
                request-timeout-secs \(timeout)
                tls {
                    cert-file "\(fx.path("a.pem"))"
                    key-file "\(fx.path("a.key"))"
                    sni { hostnames "b.test"; cert-file "\(fx.path("b.pem"))"; key-file "\(fx.path("b.key"))" }
                }
            }
        }
        routes { route "h" { matches { path "/health" }; builtin-handler "health" } }
        """
    }

    static let process = ProcessIdentity(stickyKey: [1], proxyID: "t", zone: "z", ticketKeys: try! TicketKeyRing.random())

    /// Serves `text` on `path` (every socket test runs on both data paths).
    func serve(_ text: String, _ path: ServerSnapshot.DataPath, _ body: (ProxyServer, Int) async throws -> Void) async throws {
        let config = try ConfigLoader.load(text: text).get().config
        let server = ProxyServer(eventLoopCount: 1)
        var snapshot = try SnapshotBuilder.build(config, instanceID: "t", process: Self.process)
        snapshot.dataPath = path
        let port = try await server.start(snapshot: snapshot)[0].port
        do {
            try await body(server, port)
        } catch {
            _ = await server.shutdown(gracefulTimeout: .seconds(1))
            throw error
        }
        _ = await server.shutdown(gracefulTimeout: .seconds(1))
    }

    func curl(_ port: Int, _ extra: [String] = []) throws -> ProcessResult {
        try runProcess("/usr/bin/curl", [
            "-sS", "--max-time", "20", "--cacert", fx.path("root.pem"), "--resolve", "a.test:\(port):127.0.0.1",
            "https://a.test:\(port)/health",
        ] + extra)
    }

    /// The first bytes of a ClientHello: a handshake record announcing 200 bytes, and only 16 of them.
    static let halfClientHello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0xC8, 0x01, 0x00, 0x00, 0xC4, 0x03, 0x03] + [UInt8](repeating: 7, count: 16)

    @Test(arguments: ServerSnapshot.DataPath.allCases) func stalledClientHelloIsClosedAtTheDeadlineWhileOthersAreServed(_ path: ServerSnapshot.DataPath) async throws {
        try await serve(config(timeout: 2), path) { server, port in
            let stalled = try RawClient(port: port)
            let start = ContinuousClock.now
            stalled.send(bytes: Self.halfClientHello)
            // Served meanwhile, each with a full handshake.
            for _ in 0..<3 {
                let r = try curl(port)
                #expect(r.status == 0 && r.stdout.contains("healthy"), "\(r.stderr)")
            }
            #expect(stalled.isClosedByServer())
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= .milliseconds(1900) && elapsed < .seconds(8), "\(elapsed)")
            #expect(pollUntil { server.metrics.tls.count(listener: "tls", outcome: "timeout", failed: true) == 1 })
            #expect(server.metrics.tls.count(listener: "tls", outcome: "full", failed: false) == 3)
            #expect(server.metrics.tls.handshakes.inFlight == 0)
        }
    }

    /// With one slot, a stalled handshake holds it: the next client waits unread (not refused)
    /// and is served as soon as the stalled one goes away.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func connectionsBeyondTheLimitWaitUnreadAndAreServedWhenASlotFrees(_ path: ServerSnapshot.DataPath) async throws {
        try await serve(config(limit: 1), path) { server, port in
            let stalled = try RawClient(port: port)
            stalled.send(bytes: Self.halfClientHello)
            #expect(pollUntil { server.metrics.tls.handshakes.inFlight == 1 })
            let result = Mutex<ProcessResult?>(nil)
            let waiter = Thread {
                let r = try? curl(port)
                result.withLock { $0 = r }
            }
            waiter.start()
            #expect(pollUntil { server.metrics.tls.waitCount(listener: "tls") == 1 })
            #expect(server.metrics.tls.handshakes.waiting == 1)
            #expect(result.withLock { $0 } == nil, "served while the only slot was taken")
            let text = server.metrics.render(version: "t")
            #expect(text.contains("sentinel_tls_handshakes_in_flight 1\n"), "\(text)")
            #expect(text.contains("sentinel_tls_handshakes_waiting 1\n"), "\(text)")
            #expect(text.contains(#"sentinel_tls_handshake_waits_total{listener="tls"} 1"#), "\(text)")
            shutdown(stalled.fd, Int32(SHUT_RDWR))  // the slot frees; the waiting client gets it
            #expect(pollUntil { result.withLock { $0 } != nil })
            let r = try #require(result.withLock { $0 })
            #expect(r.status == 0 && r.stdout.contains("healthy"), "\(r.stderr)")
            #expect(pollUntil { server.metrics.tls.handshakes.inFlight == 0 && server.metrics.tls.handshakes.waiting == 0 })
        }
    }

    @Test(arguments: ServerSnapshot.DataPath.allCases) func manyStalledClientsHoldNoMoreThanTheLimit(_ path: ServerSnapshot.DataPath) async throws {
        try await serve(config(limit: 2), path) { server, port in
            var clients: [RawClient] = []
            for _ in 0..<6 {
                let c = try RawClient(port: port)
                c.send(bytes: Self.halfClientHello)
                clients.append(c)
            }
            #expect(pollUntil { server.metrics.tls.handshakes.inFlight == 2 && server.metrics.tls.handshakes.waiting == 4 })
            clients.removeAll()  // closes them all
            #expect(pollUntil { server.metrics.tls.handshakes.inFlight == 0 && server.metrics.tls.handshakes.waiting == 0 })
            let r = try curl(port)
            #expect(r.status == 0, "\(r.stderr)")
        }
    }

    // MARK: Visibility

    @Test(arguments: ServerSnapshot.DataPath.allCases) func certificateExpiryIsReportedPerCertificateAndFollowsReloads(_ path: ServerSnapshot.DataPath) async throws {
        try await serve(config(), path) { server, _ in
            let text = server.metrics.render(version: "t")
            let lines = text.split(separator: "\n").filter { $0.hasPrefix("sentinel_tls_certificate_expiry_seconds{") }
            #expect(lines.count == 2, "\(text)")
            let a = try #require(lines.first { $0.contains("subject=\"CN=a.test\"") })
            #expect(a.contains("listener=\"tls\"") && a.contains("file=\"\(fx.path("a.pem"))\""), "\(a)")
            // The fixture is valid for 365 days.
            let seconds = try #require(Int64(a.split(separator: " ").last!))
            #expect(seconds > 364 * 86_400 && seconds <= 365 * 86_400, "\(a)")
            // A reload to another certificate replaces the series.
            let soon = config().replacingOccurrences(of: fx.path("a.pem"), with: fx.path("soon.pem"))
                .replacingOccurrences(of: fx.path("a.key"), with: fx.path("soon.key"))
            let reloaded = try ConfigLoader.load(text: soon).get().config
            var next = try SnapshotBuilder.build(reloaded, instanceID: "t", process: Self.process)
            next.dataPath = path
            try server.reload(snapshot: next)
            let after = server.metrics.render(version: "t")
            #expect(!after.contains("CN=a.test"), "\(after)")
            let s = try #require(after.split(separator: "\n").first { $0.contains("subject=\"CN=soon.test\"") })
            let left = try #require(Int64(s.split(separator: " ").last!))
            #expect(left > 9 * 86_400 && left <= 10 * 86_400, "\(s)")
        }
    }

    /// Failures by reason, each produced by a real client: no shared cipher, unknown SNI (with
    /// `UnknownServerNamePolicy.reject` it is an alert; Sentinel's listeners serve the default
    /// certificate instead, so that reason comes from the engine tests), protocol version, timeout.
    @Test(arguments: ServerSnapshot.DataPath.allCases) func failuresAreCountedByReason(_ path: ServerSnapshot.DataPath) async throws {
        try await serve(config(timeout: 1), path) { server, port in
            func sClient(_ args: [String]) throws -> ProcessResult {
                try runProcess("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", "a.test"] + args, input: "")
            }
            // A TLS 1.2 client offering only CBC suites: no shared cipher.
            let cbc = try sClient(["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"])
            #expect(cbc.status != 0)
            // TLS 1.1 only.
            let old = try sClient(["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
            #expect(old.status != 0)
            // Half a ClientHello, then nothing.
            let stalled = try RawClient(port: port)
            stalled.send(bytes: Self.halfClientHello)
            #expect(stalled.isClosedByServer())
            let tls = server.metrics.tls
            #expect(pollUntil { tls.count(listener: "tls", outcome: "timeout", failed: true) == 1 })
            #expect(tls.count(listener: "tls", outcome: "no_shared_cipher", failed: true) == 1)
            #expect(tls.count(listener: "tls", outcome: "protocol_version", failed: true) == 1)
            let text = server.metrics.render(version: "t")
            for reason in ["no_shared_cipher", "protocol_version", "timeout"] {
                #expect(text.contains("sentinel_tls_handshake_failures_total{listener=\"tls\",reason=\"\(reason)\"} 1"), "\(reason): \(text)")
            }
        }
    }
}
