import Foundation
import SentinelTestSupport
import Testing

@testable import SentinelMaster

/// The orphan guard as a process, with real child processes: `sentinel-guard` (the C program the
/// master starts) and `sentinel-stack guard` (the same code, the fallback when no `sentinel-guard`
/// is installed). The test plays the master: it holds the socket, registers children and then
/// closes the socket as a SIGKILLed master's kernel would, with or without DISARM first.
@Suite(.serialized)
struct GuardProcessTests {
    static let programs: [[String]] = [["sentinel-guard"], ["sentinel-stack", "guard"]]

    /// A temporary directory for the children's marker files and the guard's log.
    final class Scratch {
        let dir = NSTemporaryDirectory() + "sst-guard-" + String(UUID().uuidString.prefix(8))
        init() throws { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        func path(_ name: String) -> String { dir + "/" + name }
        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }
        func text(_ name: String) -> String { (try? String(contentsOfFile: path(name), encoding: .utf8)) ?? "" }
        deinit { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// A shell child leading its own process group; returns once `ready` exists (its traps are set).
    func child(_ script: String, _ scratch: Scratch, ready: String, _ args: String...) throws -> Int32 {
        let pid = try Spawner.spawn(
            executable: "/bin/sh", arguments: ["sh", "-c", script, "sh", scratch.path(ready)] + args.map(scratch.path),
            environment: ["PATH=/usr/bin:/bin"], fds: [])
        #expect(pollUntil { scratch.exists(ready) }, "child \(pid) never got ready")
        return pid
    }

    /// The guard, its stderr into `guard.log`; the test holds the master's end of its socket.
    func startGuard(_ program: [String], _ scratch: Scratch) throws -> GuardLink {
        let binary = builtProducts + "/" + program[0]
        return try GuardLink.spawn(
            executable: "/bin/sh",
            arguments: ["sh", "-c", #"log=$1; shift; exec "$@" 2>"$log""#, "sh", scratch.path("guard.log"), binary] + program.dropFirst())
    }

    /// SigIgn of /proc/PID/status: bit n-1 set when signal n is ignored.
    func ignoredSignals(_ pid: Int32) -> UInt64 {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigIgn:") }) else { return 0 }
        return UInt64(line.dropFirst("SigIgn:".count).trimmingCharacters(in: .whitespaces), radix: 16) ?? 0
    }

    func reap(_ pids: [Int32]) {
        for pid in pids {
            if !processGone(pid) { kill(-pid, SIGKILL) }
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    /// Waits for the guard to exit; its exit status, nil if it did not within `timeout`.
    func guardExit(_ pid: Int32, timeout: Duration = .seconds(20)) -> Int32? {
        var status: Int32 = 0
        var result: Int32?
        _ = pollUntil(timeout: timeout) {
            guard waitpid(pid, &status, WNOHANG) == pid else { return false }
            result = status
            return true
        }
        return result
    }

    static let polite = #"exec 2>/dev/null; trap 'echo term > "$2"; exit 0' TERM; echo up > "$1"; while :; do sleep 0.05; done"#
    static let stubborn = #"exec 2>/dev/null; trap '' TERM; sleep 300 & echo $! > "$2"; echo up > "$1"; while :; do sleep 0.05; done"#

    @Test(arguments: programs)
    func aDeadMasterGetsAgentsTerminatedAtOnceAndEveryGroupKilledAtItsDeadline(program: [String]) throws {
        let scratch = try Scratch()
        let polite = try child(Self.polite, scratch, ready: "polite.up", "polite.term")
        let stubborn = try child(Self.stubborn, scratch, ready: "stubborn.up", "stubborn.sleep")
        let worker = try child(Self.polite, scratch, ready: "worker.up", "worker.term")
        let grandchild = try #require(Int32(scratch.text("stubborn.sleep").trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { reap([polite, stubborn, worker]) }
        var link: GuardLink? = try startGuard(program, scratch)
        let guardPid = link!.pid
        for (pid, term, ms) in [(polite, true, 60_000), (stubborn, true, 500), (worker, false, 500)] {
            let start = try #require(AgentPidFile.startTime(pid))
            link!.send(.watch(pid: pid, startTime: start, term: term, killAfter: .milliseconds(Int64(ms))))
        }
        // The master dies: the kernel closes its end of the socket, no DISARM.
        link = nil
        #expect(guardExit(guardPid) == 0, "guard log: \(scratch.text("guard.log"))")
        for pid in [polite, stubborn, worker, grandchild] { #expect(processGone(pid), "\(pid) outlived the master") }
        #expect(scratch.exists("polite.term"), "the agent was sent SIGTERM")
        #expect(!scratch.exists("worker.term"), "a worker is not sent SIGTERM (its own control socket drains it), only SIGKILL")
        let log = scratch.text("guard.log").split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
        let gone = try #require(log.first { $0["event"] as? String == "master_gone" }, "log: \(scratch.text("guard.log"))")
        #expect(gone["role"] as? String == "guard" && gone["level"] as? String == "warn" && gone["pid"] as? Int == Int(guardPid))
        #expect((gone["watched"] as? [Int])?.sorted() == [polite, stubborn, worker].map(Int.init).sorted())
        #expect((gone["ts"] as? String)?.hasSuffix("Z") == true)
        let terminated = log.filter { $0["event"] as? String == "orphan_terminated" }.compactMap { $0["orphan_pid"] as? Int }
        let killed = log.filter { $0["event"] as? String == "orphan_killed" }.compactMap { $0["orphan_pid"] as? Int }
        #expect(terminated.sorted() == [Int(polite), Int(stubborn)].sorted())
        #expect(killed.sorted() == [Int(stubborn), Int(worker)].sorted(), "the polite agent exited on TERM before its deadline")
    }

    @Test(arguments: programs)
    func aDisarmedGuardAndForgottenOrRecycledPidsLeaveProcessesAlone(program: [String]) throws {
        let scratch = try Scratch()
        let a = try child(Self.polite, scratch, ready: "a.up", "a.term")
        let b = try child(Self.polite, scratch, ready: "b.up", "b.term")
        defer { reap([a, b]) }
        // Forgotten (reaped by the master) and recycled (another start time): never signalled.
        var link: GuardLink? = try startGuard(program, scratch)
        var guardPid = link!.pid
        link!.send(.watch(pid: a, startTime: try #require(AgentPidFile.startTime(a)), term: true, killAfter: .zero))
        link!.send(.forget(pid: a))
        link!.send(.watch(pid: b, startTime: "1", term: true, killAfter: .zero))
        link = nil
        #expect(guardExit(guardPid) == 0)
        #expect(!processGone(a) && !processGone(b) && !scratch.exists("a.term") && !scratch.exists("b.term"))
        // Disarmed (the master exits normally): EOF means nothing.
        link = try startGuard(program, scratch)
        guardPid = link!.pid
        link!.send(.watch(pid: a, startTime: try #require(AgentPidFile.startTime(a)), term: true, killAfter: .zero))
        link!.disarmAndWait(timeout: .seconds(20))
        #expect(processGone(guardPid), "the guard exits at EOF after DISARM")
        #expect(!processGone(a) && !scratch.exists("a.term"))
        #expect(!scratch.text("guard.log").contains("master_gone"))
    }

    @Test(arguments: programs)
    func terminalAndServiceManagerSignalsDoNotEndTheGuard(program: [String]) throws {
        let scratch = try Scratch()
        let agent = try child(Self.polite, scratch, ready: "agent.up", "agent.term")
        defer { reap([agent]) }
        var link: GuardLink? = try startGuard(program, scratch)
        let guardPid = link!.pid
        let signals = [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1]
        // Once the guard runs (past the shell's exec) it ignores them: /proc says when.
        #expect(pollUntil { signals.allSatisfy { ignoredSignals(guardPid) & (1 << UInt64($0 - 1)) != 0 } })
        for sig in signals { kill(guardPid, sig) }
        link!.send(.watch(pid: agent, startTime: try #require(AgentPidFile.startTime(agent)), term: true, killAfter: .seconds(60)))
        link = nil
        // Still there to act on the master's death.
        #expect(guardExit(guardPid) == 0, "guard log: \(scratch.text("guard.log"))")
        #expect(processGone(agent) && scratch.exists("agent.term"))
    }
}
