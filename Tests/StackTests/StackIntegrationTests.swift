import SentinelTestSupport
import Foundation
import Synchronization
import Testing

/// Runs the built `sentinel-stack` as a child process: the master, its workers, the control
/// commands and systemd notification, end to end.
@Suite(.serialized) struct StackIntegrationTests {
    @Test func upServesAndStopsCleanly() throws {
        let stack = try StackProcess()
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        let client = KeepAliveClient(port: stack.port)
        let r = try client.get("/health")
        #expect(r.status == 200 && r.body.contains("healthy"))
        let pids = try stack.livePids()
        #expect(pids.count == 2)
        let stop = try stack.stack("stop")
        #expect(stop.status == 0)
        #expect(stack.exitStatus() == 0)
        #expect(stack.events("stopped").first?.contains(#""clean":true"#) == true)
        #expect(pids.allSatisfy(processGone))
    }

    @Test func reloadUnderKeepAliveLoadDropsNothing() throws {
        let stack = try StackProcess()
        #expect(stack.waitForEvent("started"))
        let stop = Atomic(false)
        let counts = Mutex((ok: 0, failed: 0, connections: 0))
        let port = stack.port
        let loop = Thread {
            let client = KeepAliveClient(port: port)
            while !stop.load(ordering: .relaxed) {
                let ok = (try? client.get("/health").status) == 200
                counts.withLock { if ok { $0.ok += 1 } else { $0.failed += 1 } }
            }
            counts.withLock { $0.connections = client.connections }
        }
        loop.start()
        #expect(stack.wait { counts.withLock { $0.ok } > 50 })
        for generation in 2...4 {
            let r = try stack.stack("reload")
            #expect(r.status == 0, "reload: \(r.stderr)")
            #expect(r.stdout.contains("generation \(generation) is live"))
            let before = counts.withLock { $0.ok }
            #expect(stack.wait { counts.withLock { $0.ok } > before + 50 })
        }
        #expect(stack.waitForEvent("generation_retired", count: 3))
        stop.store(true, ordering: .relaxed)
        #expect(stack.wait { counts.withLock { $0.connections } > 0 })
        let c = counts.withLock { $0 }
        #expect(c.failed == 0, "ok \(c.ok), failed \(c.failed)")
        #expect(c.connections >= 2, "the client moved to the new generations")
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    @Test func killedWorkerIsRespawnedAndServes() throws {
        let stack = try StackProcess()
        #expect(stack.waitForEvent("started"))
        let before = try stack.livePids()
        #expect(before.count == 2)
        kill(before[0], SIGKILL)
        #expect(stack.waitForEvent("worker_ready", count: 3), "log: \(stack.text)")
        let after = try stack.livePids()
        #expect(after.count == 2 && !after.contains(before[0]) && after.contains(before[1]))
        #expect(stack.events("worker_exited").first?.contains(#""status":"signal 9""#) == true)
        for _ in 0..<10 { #expect(try KeepAliveClient(port: stack.port).get("/health").status == 200) }
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    @Test func workersExitWhenTheMasterIsKilled() throws {
        let stack = try StackProcess(gracefulSecs: 3)
        #expect(stack.waitForEvent("started"))
        let pids = try stack.livePids()
        #expect(pids.count == 2)
        kill(stack.process.processIdentifier, SIGKILL)
        #expect(stack.wait(timeout: .seconds(3 + 2)) { pids.allSatisfy(processGone) }, "workers still running: \(pids)")
    }

    @Test func badConfigOnReloadExitsOneAndTheOldGenerationServes() throws {
        let stack = try StackProcess()
        #expect(stack.waitForEvent("started"))
        let pids = try stack.livePids()
        try (StackProcess.config(workers: 2, gracefulSecs: 5, port: stack.port, dir: stack.dir) + "\nbogus-section { }\n")
            .write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        let r = try stack.stack("reload")
        #expect(r.status == 1)
        #expect(r.stderr.contains("bogus-section"), "stderr: \(r.stderr)")
        #expect(r.stderr.contains("reload failed"))
        #expect(try stack.livePids() == pids)
        #expect(try KeepAliveClient(port: stack.port).get("/health").status == 200)
        #expect(stack.events("reload_failed").count == 1)
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    @Test func termStopsGracefullyAndASecondSignalStopsAtOnce() throws {
        let graceful = try StackProcess()
        #expect(graceful.waitForEvent("started"))
        kill(graceful.process.processIdentifier, SIGTERM)
        #expect(graceful.exitStatus() == 0)

        let fast = try StackProcess()
        #expect(fast.waitForEvent("started"))
        // An idle keep-alive connection keeps a worker draining for its grace period.
        let idle = KeepAliveClient(port: fast.port)
        #expect(try idle.get("/health").status == 200)
        kill(fast.process.processIdentifier, SIGTERM)
        #expect(fast.waitForEvent("stopping"))
        kill(fast.process.processIdentifier, SIGINT)
        #expect(fast.exitStatus() == 1)
        #expect(fast.events("fast_stop").count == 1)
    }

    @Test func reloadMovesToANewAddressAndClosesTheOldOne() throws {
        let stack = try StackProcess(workers: 1)
        #expect(stack.waitForEvent("started"))
        let newPort = try freePort()
        let text = StackProcess.config(workers: 1, gracefulSecs: 5, port: newPort, dir: stack.dir)
        try text.write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        #expect(try stack.stack("reload").status == 0)
        #expect(try KeepAliveClient(port: newPort).get("/health").status == 200)
        #expect(stack.waitForEvent("generation_retired"))
        #expect(throws: KeepAliveClient.Failure.connect) { try KeepAliveClient(port: stack.port).get("/health") }
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    @Test func systemdNotifySequence() throws {
        let dir = NSTemporaryDirectory() + "sst-notify-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/notify.sock"
        let fd = try datagramSocket(path)
        defer { close(fd) }
        let stack = try StackProcess(env: ["NOTIFY_SOCKET": path])
        #expect(stack.waitForEvent("started"))
        #expect(try stack.stack("reload").status == 0)
        #expect(try stack.stack("stop").status == 0)
        #expect(stack.exitStatus() == 0)
        var states: [String] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buf, buf.count, Int32(MSG_DONTWAIT))
            guard n > 0 else { break }
            states.append(String(decoding: buf[0..<n], as: UTF8.self))
        }
        let kinds = states.map { String($0.split(separator: "\n").first ?? "") }
        #expect(kinds == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"], "\(states)")
        #expect(states.count > 1 && states[1].contains("MONOTONIC_USEC="))
    }

    /// The notify messages waiting on `fd`.
    func receiveAll(_ fd: Int32) -> [String] {
        var states: [String] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buf, buf.count, Int32(MSG_DONTWAIT))
            guard n > 0 else { return states }
            states.append(String(decoding: buf[0..<n], as: UTF8.self))
        }
    }

    func notifySocket() throws -> (dir: String, path: String, fd: Int32) {
        let dir = NSTemporaryDirectory() + "sst-notify-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/notify.sock"
        return (dir, path, try datagramSocket(path))
    }

    @Test func watchdogPetsWhileHealthyAndTheNotifySequenceStaysExact() throws {
        let notify = try notifySocket()
        defer { close(notify.fd); try? FileManager.default.removeItem(atPath: notify.dir) }
        // 400 ms: a pet every 200 ms.
        let stack = try StackProcess(env: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"])
        var states: [String] = []
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        #expect(stack.wait { states += receiveAll(notify.fd); return states.filter { $0 == "WATCHDOG=1" }.count >= 2 }, "\(states)")
        #expect(try stack.stack("reload").status == 0)
        #expect(stack.wait { states += receiveAll(notify.fd); return states.filter { $0 == "WATCHDOG=1" }.count >= 4 }, "\(states)")
        #expect(try stack.stack("stop").status == 0)
        #expect(stack.exitStatus() == 0)
        states += receiveAll(notify.fd)
        let kinds = states.map { String($0.split(separator: "\n").first ?? "") }
        #expect(kinds.filter { $0 != "WATCHDOG=1" } == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"], "\(states)")
        #expect(kinds.first == "READY=1", "no pet before start-up completed: \(kinds)")
        #expect(states.allSatisfy { !$0.hasPrefix("WATCHDOG") || $0 == "WATCHDOG=1" }, "a pet is a datagram of its own")
        #expect(states.contains { $0.hasPrefix("RELOADING=1") && $0.contains("MONOTONIC_USEC=") })
        #expect(stack.events("watchdog_enabled").first?.contains(#""period_ms":200"#) == true)
        #expect(stack.events("watchdog_withheld").isEmpty)
    }

    @Test func watchdogIsWithheldWhileAWorkerIsWedged() throws {
        let notify = try notifySocket()
        defer { close(notify.fd); try? FileManager.default.removeItem(atPath: notify.dir) }
        let stack = try StackProcess(env: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"])
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        var states: [String] = []
        #expect(stack.wait { states += receiveAll(notify.fd); return states.contains("WATCHDOG=1") })
        let pids = try stack.livePids()
        #expect(pids.count == 2)
        kill(pids[1], SIGSTOP)
        defer { kill(pids[1], SIGCONT) }
        #expect(stack.waitForEvent("watchdog_withheld"), "log: \(stack.text)")
        #expect(stack.events("watchdog_withheld").first?.contains(#""unresponsive_pids":[\#(pids[1])]"#) == true)
        // Every pet (and the STATUS= saying why they stop) was sent before the decision was
        // logged: from here on, none for three periods. A bounded observation, not a sync point.
        #expect(receiveAll(notify.fd).contains { $0.hasPrefix("STATUS=watchdog withheld: worker \(pids[1])") })
        let window = ContinuousClock.now + .milliseconds(600)
        var late: [String] = []
        while ContinuousClock.now < window {
            late += receiveAll(notify.fd)
            usleep(20_000)
        }
        #expect(!late.contains("WATCHDOG=1"), "\(late)")
        kill(pids[1], SIGCONT)
        #expect(stack.waitForEvent("watchdog_resumed"), "log: \(stack.text)")
        states = []
        #expect(stack.wait { states += receiveAll(notify.fd); return states.contains("WATCHDOG=1") })
        #expect(try stack.stack("stop").status == 0)
        #expect(stack.exitStatus() == 0)
    }

    func datagramSocket(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw POSIXError(.EADDRINUSE) }
        return fd
    }
}
