import Foundation
import Synchronization
import SentinelTestSupport
import Testing

@testable import SentinelMaster

/// Session tickets under `sentinel-stack`: the master's keys reach every worker of every
/// generation, so a ticket resumes whichever worker the kernel hands the connection to, and
/// after a reload (new workers).
@Suite struct StackTLSTests {
    @Test func ticketKeysLineRoundTripsAndNeverPrintsTheKeys() throws {
        let keys = TicketKeyMaterial.random()
        let line = MasterMessage.ticketKeys(keys).line
        #expect(line.hasPrefix("TICKET-KEYS ") && line.hasSuffix("\n"))
        #expect(MasterMessage(line: line.dropLast()) == .ticketKeys(keys))
        #expect(MasterMessage(line: "TICKET-KEYS 00") == nil)
        #expect(MasterMessage(line: Substring("TICKET-KEYS " + String(repeating: "zz", count: 240))) == nil)
        #expect("\(MasterMessage.ticketKeys(keys))".contains("redacted"))
        #expect(!"\(MasterMessage.ticketKeys(keys))".contains(keys.hex.prefix(16)))
        var rotated = keys
        rotated.rotate()
        func key(_ m: TicketKeyMaterial, _ i: Int) -> [UInt8] { m.withKey(i) { Array($0) } }
        #expect(key(rotated, 0) == key(keys, 1))
        #expect(key(rotated, 1) == key(keys, 2))
        #expect(key(rotated, 2) != key(keys, 2))
    }

    /// The master's copy of the keys: never a Swift array (whose freed storage nobody wipes),
    /// the replaced allocation wiped at rotation, the control line wiped once written.
    @Test func masterKeyCopiesAreWiped() throws {
        var keys = TicketKeyMaterial.random()
        #expect(!Mirror(reflecting: keys).children.contains { $0.value is [UInt8] })
        let before = keys.withKey(2) { Array($0) }
        let old = keys.rotateReturningOld()
        #expect(old.isWiped, "the master's only reference: wiped at once")
        #expect(keys.withKey(1) { Array($0) } == before)
        // A copy still held elsewhere (a message in flight) keeps its bytes until released.
        let copy = keys
        let shared = keys.rotateReturningOld()
        #expect(!shared.isWiped)
        #expect(copy.withKey(2) { Array($0) } == keys.withKey(1) { Array($0) })

        // Over a real socketpair: the worker's end parses the same keys; the sent line is zero.
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let received = Mutex<[MasterMessage]>([])
        let worker = ControlLink(fd: fds[1], label: "test.worker", onLine: { line in
            if let m = MasterMessage(line: line) { received.withLock { $0.append(m) } }
        }, onClose: {})
        let master = ControlLink(fd: fds[0], label: "test.master", onLine: { _ in }, onClose: {})
        let (sent, line) = master.sendReturningLine(ticketKeys: keys)
        #expect(sent)
        #expect(line.count == 12 + 480 + 1)
        #expect(line.isWiped)
        #expect(pollUntil { received.withLock { $0 } == [.ticketKeys(keys)] })
        master.close()
        worker.close()
    }

    @Test func ticketResumesOnEveryWorkerAndAfterAReload() throws {
        let fx = HTTPSFixtures.shared
        let stack = try StackProcess(workers: 2, config: { port, dir in
            """
            schema-version "1.0"
            system { worker-processes 2; worker-threads 1; runtime-directory "\(dir)/run" }
            listeners {
                listener "tls" {
                    address "127.0.0.1:\(port)"
                    protocol "https"
                    tls { cert-file "\(fx.path("a.pem"))"; key-file "\(fx.path("a.key"))" }
                }
            }
            routes { route "health" { matches { path "/health" }; builtin-handler "health" } }
            """
        })
        #expect(stack.waitForEvent("started"))
        let session = stack.dir + "/session.pem"
        func sClient(_ args: [String]) throws -> ProcessResult {
            try runProcess(
                "/usr/bin/openssl",
                ["s_client", "-connect", "127.0.0.1:\(stack.port)", "-ign_eof", "-tls1_3", "-servername", "a.test"] + args,
                input: "GET /health HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
        }
        let first = try sClient(["-sess_out", session])
        #expect(first.stdout.contains("New, TLSv1.3"), "\(first.stdout)")
        // Connections spread over both workers' sockets (SO_REUSEPORT hashes the client port):
        // with a ring per worker about half of these would be full handshakes.
        var reused = 0
        for _ in 0..<12 where try sClient(["-sess_in", session]).stdout.contains("Reused, TLSv1.3") { reused += 1 }
        #expect(reused == 12)
        #expect(try stack.stack("reload").status == 0)
        var afterReload = 0
        for _ in 0..<6 where try sClient(["-sess_in", session]).stdout.contains("Reused, TLSv1.3") { afterReload += 1 }
        #expect(afterReload == 6)
        _ = try stack.stack("stop")
    }
}
