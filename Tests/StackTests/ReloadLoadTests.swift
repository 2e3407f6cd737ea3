import SentinelTestSupport
import Foundation
import Synchronization
import Testing

/// Reloads and stops under sustained load, against the built `sentinel-stack` (debug build in CI:
/// NIO's debug assertions are on, so two processes polling one listening socket would trap).
@Suite(.serialized) struct ReloadLoadTests {
    /// Counts of the load clients. `failures` keeps the first few failure descriptions.
    struct Counts {
        var ok = 0
        var failed = 0
        var failures: [String] = []
        var connections = 0

        mutating func record(_ result: Result<Int, any Error>, _ kind: String) {
            switch result {
            case .success(200): ok += 1
            case .success(let status):
                failed += 1
                if failures.count < 10 { failures.append("\(kind): status \(status)") }
            case .failure(let error):
                failed += 1
                if failures.count < 10 { failures.append("\(kind): \(error)") }
            }
        }
    }

    /// Routes `/v1` … `/vN` (builtin health), so each reload adds one; `/flip` alternates between
    /// the `health` and `welcome` builtins, so an existing route's response changes too.
    /// Four event loops per worker, whatever the machine: a connection accepted on one loop is set
    /// up on another and handed back, and that round trip is where a closing listener used to
    /// drop it (invisible with one loop per worker, the default on a 2-core machine).
    static func config(port: Int, dir: String, version: Int) -> String {
        var extra = (0...version).filter { $0 > 0 }.map { #"route "v\#($0)" { matches { path "/v\#($0)" }; builtin-handler "health" }"# }
        extra.append(#"route "flip" { matches { path "/flip" }; builtin-handler "\#(version % 2 == 0 ? "health" : "welcome")" }"#)
        return StackProcess.config(workers: 2, gracefulSecs: 5, port: port, dir: dir, extra: extra.joined(separator: "\n"), threads: 4)
    }

    /// Clients opening a new connection for every request: at 8 and more, connections are being
    /// accepted at every moment of a generation switch.
    static let newConnectionClients = 8

    @Test func twentyReloadsUnderKeepAliveAndEightNewConnectionClientsDropNothing() throws {
        let stack = try StackProcess { port, dir in Self.config(port: port, dir: dir, version: 0) }
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        let port = stack.port
        let stop = Atomic(false)
        let counts = Mutex(Counts())
        var threads: [@Sendable () -> Void] = []
        // Two keep-alive clients (reconnecting only after `Connection: close`) …
        for _ in 0..<2 {
            threads.append {
                let client = KeepAliveClient(port: port)
                while !stop.load(ordering: .relaxed) {
                    let r = Result { try client.get("/health").status }
                    counts.withLock { $0.record(r, "keep-alive") }
                }
                counts.withLock { $0.connections += client.connections }
            }
        }
        // … and clients opening a new connection for every request.
        for _ in 0..<Self.newConnectionClients {
            threads.append {
                while !stop.load(ordering: .relaxed) {
                    let r = Result { try KeepAliveClient(port: port).get("/health").status }
                    counts.withLock { $0.record(r, "new-connection") }
                }
            }
        }
        let done = Atomic(0)
        for body in threads {
            Thread {
                body()
                done.add(1, ordering: .relaxed)
            }.start()
        }
        #expect(stack.wait { counts.withLock { $0.ok } > 100 })
        for version in 1...20 {
            try Self.config(port: port, dir: stack.dir, version: version).write(toFile: stack.configPath, atomically: true, encoding: .utf8)
            let r = try stack.stack("reload")
            #expect(r.status == 0, "reload \(version): \(r.stderr)")
            #expect(r.stdout.contains("generation \(version + 1) is live"), "\(r.stdout)")
            // The added route answers on a new connection (an old worker may still accept for a
            // moment until it handles DRAIN, hence the poll), and /flip changed its response.
            #expect(stack.wait(timeout: .seconds(10)) { (try? KeepAliveClient(port: port).get("/v\(version)").status) == 200 },
                    "route /v\(version) after reload \(version)")
            let flip = version % 2 == 0 ? "healthy" : "Sentinel is running"
            #expect(stack.wait(timeout: .seconds(10)) { (try? KeepAliveClient(port: port).get("/flip").body.contains(flip)) == true },
                    "/flip after reload \(version)")
            let before = counts.withLock { $0.ok }
            #expect(stack.wait { counts.withLock { $0.ok } > before + 20 }, "load continues after reload \(version)")
        }
        #expect(stack.waitForEvent("generation_retired", count: 20, timeout: .seconds(60)), "log: \(stack.text)")
        stop.store(true, ordering: .relaxed)
        #expect(stack.wait { done.load(ordering: .relaxed) == threads.count })
        let c = counts.withLock { $0 }
        #expect(c.failed == 0, "ok \(c.ok), failed \(c.failed): \(c.failures)")
        #expect(c.ok > 1000, "ok \(c.ok)")
        #expect(c.connections >= 2, "the keep-alive clients moved to new generations")
        #expect(stack.events("worker_exited").allSatisfy { $0.contains(#""status":"exit 0""#) }, "a worker crashed: \(stack.events("worker_exited").filter { !$0.contains(#""status":"exit 0""#) })")
        #expect(stack.events("worker_spawned").count == 42, "no respawn: 21 generations × 2 workers")
        // Every hand-over went by the old worker's LISTENERS-CLOSED, none by the fallback timer.
        #expect(stack.events("worker_listeners_closed").count == 40)
        #expect(stack.events("accept_handover_timeout").isEmpty)
        #expect(stack.events("worker_accepting").count == 42)
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    /// `/slow/<ms>`: answered by an upstream that waits that long; the stack has 2 workers.
    static func slowConfig(port: Int, dir: String, upstream: Int, gracefulSecs: Int) -> String {
        StackProcess.config(
            workers: 2, gracefulSecs: gracefulSecs, port: port, dir: dir,
            extra: #"route "slow" { matches { path-prefix "/slow" }; upstream "slow" }"#)
            + "\n" + #"upstreams { upstream "slow" { target "127.0.0.1:\#(upstream)" } }"#
    }

    @Test func termUnderLoadFinishesInFlightRequestsAndExitsZero() throws {
        let upstream = try SlowUpstream()
        let stack = try StackProcess { Self.slowConfig(port: $0, dir: $1, upstream: upstream.port, gracefulSecs: 5) }
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        let results = Mutex<[Result<Int, any Error>]>([])
        let port = stack.port
        for _ in 0..<4 {
            Thread {
                let r = Result { try KeepAliveClient(port: port).get("/slow/1000").status }
                results.withLock { $0.append(r) }
            }.start()
        }
        // Every request reached the upstream: all four are in flight in the workers.
        #expect(stack.wait { upstream.received >= 4 }, "log: \(stack.text)")
        kill(stack.process.processIdentifier, SIGTERM)
        #expect(stack.waitForEvent("stopping"))
        #expect(stack.exitStatus() == 0, "log: \(stack.text)")
        #expect(stack.wait { results.withLock { $0.count } == 4 })
        let statuses = results.withLock { $0.map { (try? $0.get()) ?? -1 } }
        #expect(statuses == [200, 200, 200, 200], "\(statuses)")
        #expect(stack.events("stopped").first?.contains(#""clean":true"#) == true)
    }

    @Test func termCutsOffARequestThatCannotFinishAndTheExitStatusSaysSo() throws {
        let upstream = try SlowUpstream()
        let stack = try StackProcess { Self.slowConfig(port: $0, dir: $1, upstream: upstream.port, gracefulSecs: 1) }
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        let result = Mutex<Result<Int, any Error>?>(nil)
        let port = stack.port
        Thread {
            let r = Result { try KeepAliveClient(port: port).get("/slow/20000").status }
            result.withLock { $0 = r }
        }.start()
        #expect(stack.wait { upstream.received >= 1 })
        let termAt = ContinuousClock.now
        kill(stack.process.processIdentifier, SIGTERM)
        #expect(stack.exitStatus(timeout: .seconds(15)) == 1, "log: \(stack.text)")
        #expect(ContinuousClock.now - termAt < .seconds(1 + 5), "cut off at the graceful deadline, not the upstream's 20 s")
        #expect(stack.wait { result.withLock { $0 } != nil })
        let r = result.withLock { $0 }
        #expect((try? r?.get()) == nil, "the client got no complete response: \(String(describing: r))")
        #expect(stack.events("worker_drained").contains { $0.contains(#""clean":false"#) })
        #expect(stack.events("stopped").first?.contains(#""clean":false"#) == true)
    }
}

/// An upstream that answers `/slow/<ms>` after waiting `ms` (one thread per connection) and
/// counts the requests it has received.
final class SlowUpstream: Sendable {
    let port: Int
    private let listener: LoopbackListener
    private let count = Mutex(0)

    init() throws {
        listener = try LoopbackListener()
        port = listener.port
        listener.start { [self] c in self.serve(c) }
    }

    var received: Int { count.withLock { $0 } }

    private func serve(_ c: Int32) {
        defer { close(c) }
        guard let data = readHead(c) else { return }
        count.withLock { $0 += 1 }
        let target = String(decoding: data.prefix { $0 != 13 }, as: UTF8.self).split(separator: " ").dropFirst().first ?? ""
        let ms = Int(target.split(separator: "/").last ?? "") ?? 0
        usleep(UInt32(ms) * 1000)  // the upstream's own latency, not a synchronisation
        sendText(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow")
    }

}
