import Foundation
import Synchronization
import Testing
import SentinelTestSupport

/// The master's listening sockets follow the generations that use them.
@Suite struct ListenerSocketTests {
    /// Sockets listening on 127.0.0.1:`port` in this network namespace (one per SO_REUSEPORT member).
    static func listeningSockets(port: Int) -> Int {
        // Read whole: Foundation returns only the first page of a /proc file, and the suite's
        // other tests fill /proc/net/tcp with thousands of lines.
        let text = readProcFile("/proc/net/tcp") ?? ""
        let local = String(format: "0100007F:%04X", port)
        return text.split(separator: "\n").filter { line in
            let f = line.split(separator: " ")
            return f.count > 3 && f[1] == local && f[3] == "0A"
        }.count
    }

    /// A reload to fewer worker processes: the sockets of the slots the old generation had beyond
    /// the new worker count stay open and are served by the new workers (slot k by worker
    /// k mod N). Closing them would reset the connections the kernel queued on them, and it
    /// queues new ones on every socket of the group until it is closed.
    @Test func aReloadToFewerWorkersServesTheLeftOverSocketsAndDropsNothing() throws {
        let stack = try StackProcess { StackProcess.config(workers: 4, gracefulSecs: 5, port: $0, dir: $1, threads: 2) }
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        #expect(Self.listeningSockets(port: stack.port) == 4)
        let port = stack.port
        let stop = Atomic(false)
        let counts = Mutex((ok: 0, failed: [String]()))
        let done = Atomic(0)
        for _ in 0..<8 {
            Thread {
                while !stop.load(ordering: .relaxed) {
                    do {
                        let status = try KeepAliveClient(port: port).get("/health").status
                        counts.withLock { if status == 200 { $0.ok += 1 } else { $0.failed.append("status \(status)") } }
                    } catch {
                        counts.withLock { $0.failed.append("\(error)") }
                    }
                }
                done.add(1, ordering: .relaxed)
            }.start()
        }
        #expect(stack.wait { counts.withLock { $0.ok } > 200 })
        try StackProcess.config(workers: 2, gracefulSecs: 5, port: port, dir: stack.dir, threads: 2)
            .write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        #expect(try stack.stack("reload").status == 0)
        #expect(stack.waitForEvent("generation_retired"), "log: \(stack.text)")
        let after = counts.withLock { $0.ok }
        #expect(stack.wait { counts.withLock { $0.ok } > after + 500 }, "load continues on the 2 new workers")
        #expect(Self.listeningSockets(port: port) == 4, "the left-over sockets are still served")
        stop.store(true, ordering: .relaxed)
        #expect(stack.wait { done.load(ordering: .relaxed) == 8 })
        let failed = counts.withLock { $0.failed }
        #expect(failed.isEmpty, "\(failed.count) failed: \(failed.prefix(5))")
        #expect(stack.events("accept_handover_timeout").isEmpty)
        #expect(stack.events("worker_exited").allSatisfy { $0.contains(#""status":"exit 0""#) })
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }
}
