import Foundation
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
        #expect(rotated.previous == keys.current)
        #expect(rotated.current == keys.next)
        #expect(rotated.next != keys.next)
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
