import Foundation
import Synchronization
import Testing

/// The master's listening sockets follow the generations that use them.
@Suite struct ListenerSocketTests {
    /// Sockets listening on 127.0.0.1:`port` in this network namespace (one per SO_REUSEPORT member).
    static func listeningSockets(port: Int) -> Int {
        let text = (try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)) ?? ""
        let local = String(format: "0100007F:%04X", port)
        return text.split(separator: "\n").filter { line in
            let f = line.split(separator: " ")
            return f.count > 3 && f[1] == local && f[3] == "0A"
        }.count
    }

    /// A reload to fewer worker processes: the sockets of the slots nobody serves any more are
    /// closed as soon as their old workers stop polling them, not when the old generation has
    /// finished draining (until then the kernel kept queueing new connections on them, to be
    /// reset at close).
    @Test func aReloadToFewerWorkersClosesTheLeftOverSocketsAtOnce() throws {
        let upstream = try SlowUpstream()
        func config(_ workers: Int, _ port: Int, _ dir: String) -> String {
            StackProcess.config(
                workers: workers, gracefulSecs: 10, port: port, dir: dir,
                extra: #"route "slow" { matches { path-prefix "/slow" }; upstream "slow" }"#)
                + "\n" + #"upstreams { upstream "slow" { target "127.0.0.1:\#(upstream.port)" } }"#
        }
        let stack = try StackProcess { config(4, $0, $1) }
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        #expect(Self.listeningSockets(port: stack.port) == 4)
        // A request in flight keeps the old generation draining for seconds.
        let done = Mutex<Int?>(nil)
        let port = stack.port
        Thread {
            let status = (try? KeepAliveClient(port: port).get("/slow/4000").status) ?? -1
            done.withLock { $0 = status }
        }.start()
        #expect(stack.wait { upstream.received >= 1 })
        try config(2, stack.port, stack.dir).write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        #expect(try stack.stack("reload").status == 0)
        #expect(stack.waitForEvent("worker_listeners_closed", count: 4), "log: \(stack.text)")
        #expect(stack.wait(timeout: .seconds(2)) { Self.listeningSockets(port: port) == 2 }, "sockets: \(Self.listeningSockets(port: port))")
        #expect(stack.events("generation_retired").isEmpty, "closed while the old generation still drains")
        #expect(try KeepAliveClient(port: port).get("/health").status == 200)
        #expect(stack.wait(timeout: .seconds(15)) { done.withLock { $0 } != nil })
        #expect(done.withLock { $0 } == 200, "the request in flight completed")
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }
}
