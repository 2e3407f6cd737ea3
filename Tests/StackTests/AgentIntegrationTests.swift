import SentinelTestSupport
import Foundation
import Synchronization
import SentinelMaster
import Testing

/// Agents supervised by the built `sentinel-stack`: small shell scripts in a temporary directory.
/// Synchronisation is on the master's JSON log lines and the control socket, never on sleeps.
@Suite(.serialized) struct AgentIntegrationTests {
    /// A directory of executable scripts, removed at the end.
    final class Scripts {
        let dir = NSTemporaryDirectory() + "sst-agents-" + String(UUID().uuidString.prefix(8))

        init(_ scripts: [String: String]) throws {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (name, body) in scripts {
                let path = dir + "/" + name
                try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
                chmod(path, 0o755)
            }
        }

        func path(_ name: String) -> String { dir + "/" + name }

        deinit { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// The JSON objects of the log lines with `"event":"<event>"` (and the agent, when given).
    func entries(_ stack: StackProcess, _ event: String, agent: String? = nil) -> [[String: Any]] {
        stack.events(event).compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }.filter { agent == nil || $0["agent"] as? String == agent }
    }

    func waitFor(_ stack: StackProcess, _ event: String, agent: String, count: Int = 1, timeout: Duration = .seconds(20)) -> Bool {
        stack.wait(timeout: timeout) { entries(stack, event, agent: agent).count >= count }
    }

    /// Milliseconds since midnight of a log line's `ts` (…THH:MM:SS.mmmZ).
    func millis(_ entry: [String: Any]) -> Int {
        let ts = (entry["ts"] as? String) ?? ""
        let clock = ts.split(separator: "T").last?.dropLast() ?? ""
        let parts = clock.split(separator: ":")
        guard parts.count == 3, let h = Int(parts[0]), let m = Int(parts[1]), let s = Double(parts[2]) else { return 0 }
        return (h * 3600 + m * 60) * 1000 + Int((s * 1000).rounded())
    }

    func statusJSON(_ stack: StackProcess) throws -> [String: Any] {
        let out = try stack.stack("status").stdout
        return (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]) ?? [:]
    }

    @Test func noWorkerOrAgentOutlivesASigkilledMasterByMoreThanTheDrainDeadline() throws {
        let scripts = try Scripts([
            // stderr to /dev/null: once the master is gone its pipe is broken, and the shell's
            // "Terminated" report of its killed `sleep` would end it with SIGPIPE before the trap.
            "polite.sh": "exec 2>/dev/null; trap 'echo term > \"$MARK\"; exit 0' TERM; echo up; while :; do sleep 0.05; done",
            "stubborn.sh": "trap '' TERM; sleep 300 & echo up; while :; do sleep 0.05; done",
        ])
        let mark = scripts.path("polite.mark")
        defer { withExtendedLifetime(scripts) {} }
        let stack = try StackProcess(workers: 2, gracefulSecs: 3, topLevel: """
            agents {
                agent "polite" { unix-socket "/tmp/p.sock"; command "\(scripts.path("polite.sh"))"; env { MARK "\(mark)" }; }
                agent "stubborn" { unix-socket "/tmp/s.sock"; command "\(scripts.path("stubborn.sh"))"; stop-timeout-ms 60000; }
            }
            """)
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        #expect(waitFor(stack, "agent_output", agent: "polite") && waitFor(stack, "agent_output", agent: "stubborn"))
        // Every pid: workers, agents, the stubborn agent's child (same process group), the guard.
        let status = try statusJSON(stack)
        let workers = try stack.livePids()
        let agentPids = try statusAgents(stack).compactMap { ($0["pid"] as? Int).map(Int32.init) }
        let stubborn = try #require(try statusAgents(stack).first { $0["name"] as? String == "stubborn" }?["pid"] as? Int)
        let children = try childrenOf(Int32(stubborn))
        let guardPid = try #require(status["guard_pid"] as? Int)
        // The slim guard (the C `sentinel-guard` built beside `sentinel-stack`), not a Swift process.
        let guardExe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(guardPid)/exe")
        #expect(guardExe.hasSuffix("/sentinel-guard"), "guard runs \(guardExe)")
        #expect(workers.count == 2 && agentPids.count == 2 && !children.isEmpty)
        let all = workers + agentPids + children + [Int32(guardPid)]
        #expect(!all.contains(where: processGone))
        let killed = ContinuousClock.now
        kill(stack.process.processIdentifier, SIGKILL)
        // Drain deadline 3 s; margin 2 s for a loaded machine.
        #expect(stack.wait(timeout: .seconds(3 + 2)) { all.allSatisfy(processGone) }, "still running: \(all.filter { !processGone($0) })")
        // The polite agent got SIGTERM at once, the stubborn one SIGKILL at the deadline.
        #expect(FileManager.default.fileExists(atPath: mark), "the polite agent was sent SIGTERM; log: \(stack.text)")
        #expect(ContinuousClock.now - killed < .seconds(5))
        #expect(stack.events("orphan_killed").count >= 1, "log: \(stack.text)")
    }

    @Test func aLongLineIsCutAt16KiBWithAMarkerAndTheNextLineIsIntact() throws {
        let scripts = try Scripts(["long.sh": "head -c 40000 /dev/zero | tr '\\\\0' x; echo; echo after; while :; do sleep 0.05; done"])
        let stack = try StackProcess(workers: 1, topLevel: """
            agents { agent "long" { unix-socket "/tmp/l.sock"; command "\(scripts.path("long.sh"))"; } }
            """)
        #expect(waitFor(stack, "agent_output", agent: "long", count: 2), "log: \(stack.text.prefix(2000))")
        let lines = entries(stack, "agent_output", agent: "long")
        #expect((lines.first?["line"] as? String)?.utf8.count == 16 * 1024)
        #expect(lines.first?["truncated"] as? Bool == true)
        #expect(lines.dropFirst().first?["line"] as? String == "after", "the rest of the long line was dropped, not split into more lines")
        #expect(lines.dropFirst().first?["truncated"] == nil)
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    /// The master's stderr is a pipe the test stops reading: the master's loop blocks writing its
    /// log, and an agent flooding its output must then block too instead of the master buffering
    /// the flood in memory.
    @Test func aFloodingAgentBlocksInsteadOfGrowingTheMaster() throws {
        let scripts = try Scripts([
            "flood.sh": #"i=0; while :; do echo "flood $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); echo $i > "$COUNT.tmp"; mv "$COUNT.tmp" "$COUNT"; done"#,
        ])
        defer { withExtendedLifetime(scripts) {} }
        let count = scripts.path("count")
        let port = try freePort()
        let configPath = scripts.path("sentinel.kdl")
        try (StackProcess.config(workers: 1, gracefulSecs: 5, port: port, dir: scripts.dir) + """

            agents { agent "flood" { unix-socket "/tmp/f.sock"; command "\(scripts.path("flood.sh"))"; env { COUNT "\(count)" }; } }
            """).write(toFile: configPath, atomically: true, encoding: .utf8)
        var pipeFDs: [Int32] = [0, 0]
        #expect(pipe(&pipeFDs) == 0)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NOTIFY_SOCKET")
        let master = try Spawner.spawn(
            executable: "/bin/sh", arguments: ["sh", "-c", #"exec "$0" up --config "$1" 2>&3 3>&-"#, builtProducts + "/sentinel-stack", configPath],
            environment: env.map { "\($0.key)=\($0.value)" }, fds: [pipeFDs[1]])
        close(pipeFDs[1])
        // The read end is closed by whoever owns it last: the reader thread at EOF once started
        // (closing it under a blocked read could close another test's fd reusing the number).
        let readerStarted = Atomic(false)
        defer {
            kill(master, SIGKILL)
            var st: Int32 = 0
            waitpid(master, &st, 0)
            if !readerStarted.load(ordering: .relaxed) { close(pipeFDs[0]) }
        }
        func counted() -> Int { Int(((try? String(contentsOfFile: count, encoding: .utf8)) ?? "0").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 }
        func agentPid() -> Int32? {
            (try? childrenOf(master))?.first { pid in
                ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").contains("flood.sh")
            }
        }
        func blocked(_ pid: Int32) -> Bool {
            ((try? String(contentsOfFile: "/proc/\(pid)/wchan", encoding: .utf8)) ?? "").hasSuffix("pipe_write")  // anon_pipe_write on newer kernels
        }
        let deadline = ContinuousClock.now + .seconds(30)
        var agent: Int32?
        while ContinuousClock.now < deadline {
            if let a = agent ?? agentPid() { agent = a; if blocked(a) { break } }
            usleep(20_000)
        }
        if agent == nil {
            _ = fcntl(pipeFDs[0], F_SETFL, O_NONBLOCK)
            var buf = [UInt8](repeating: 0, count: 65536)
            let n = read(pipeFDs[0], &buf, buf.count)
            Issue.record("master log: \(String(decoding: buf[0..<max(0, n)], as: UTF8.self).prefix(3000))")
        }
        let pid = try #require(agent, "the agent never started")
        #expect(blocked(pid), "the agent is blocked writing to its pipe: the master stopped reading it; wchan \((try? String(contentsOfFile: "/proc/\(pid)/wchan", encoding: .utf8)) ?? "?"), \(counted()) lines, master wchan \((try? String(contentsOfFile: "/proc/\(master)/wchan", encoding: .utf8)) ?? "?")")
        let stuck = counted()
        // 64 handed-over lines + one 8 KiB read + the 64 KiB pipe, of ~190-byte lines: a few hundred.
        #expect(stuck < 2_000, "lines written by the agent while the master could not log: \(stuck)")
        // Stays blocked (a bounded observation, not a synchronisation point).
        let window = ContinuousClock.now + .milliseconds(500)
        while ContinuousClock.now < window { usleep(50_000) }
        #expect(counted() == stuck)
        // Reading the log again lets everything flow.
        let log = CollectedText()
        let fd = pipeFDs[0]
        readerStarted.store(true, ordering: .relaxed)
        Thread {
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fd, &buf, buf.count)
                guard n > 0 else { close(fd); return }
                log.append(String(decoding: buf[0..<n], as: UTF8.self))
            }
        }.start()
        let resumed = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < resumed, counted() < stuck + 1_000 { usleep(20_000) }
        #expect(counted() >= stuck + 1_000, "the agent writes again once the log drains")
        #expect(log.value.contains(#""event":"agent_output""#) && log.value.contains("flood 0 "))
        let stop = try runBuilt("sentinel-stack", ["stop", "--config", configPath])
        #expect(stop.status == 0, "\(stop.stderr)")
    }

    /// Pids whose parent is `pid` (from /proc).
    func childrenOf(_ pid: Int32) throws -> [Int32] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap(Int32.init).filter { p in
            let stat = (try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8)) ?? ""
            guard let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == pid
        }
    }

    func statusAgents(_ stack: StackProcess) throws -> [[String: Any]] {
        let out = try stack.stack("status").stdout
        let json = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
        return (json?["agents"] as? [[String: Any]]) ?? []
    }

    @Test func crashingAgentIsRestartedPerPolicyWithItsOutputCaptured() throws {
        let scripts = try Scripts([
            "crash.sh": "echo \"hello from $AGENT_GREETING in $(pwd)\"; echo oops >&2; exit 3",
            "clean.sh": "echo done; exit 0",
        ])
        let stack = try StackProcess(workers: 1, env: ["SST_GREETING": "greeter"], topLevel: """
            agents {
                agent "crash" {
                    unix-socket "/tmp/crash.sock"
                    command "\(scripts.path("crash.sh"))"
                    restart-delay-ms 20
                    max-restarts 2
                    working-directory "\(scripts.dir)"
                    env { AGENT_GREETING "${SST_GREETING}" }
                }
                agent "clean" {
                    unix-socket "/tmp/clean.sock"
                    command "\(scripts.path("clean.sh"))"
                }
            }
            """)
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        #expect(waitFor(stack, "agent_gave_up", agent: "crash"), "log: \(stack.text)")
        #expect(entries(stack, "agent_started", agent: "crash").count == 3)
        let output = entries(stack, "agent_output", agent: "crash")
        #expect(output.contains { $0["stream"] as? String == "stdout" && $0["line"] as? String == "hello from greeter in \(scripts.dir)" })
        #expect(output.contains { $0["stream"] as? String == "stderr" && $0["line"] as? String == "oops" })
        #expect(entries(stack, "agent_exited", agent: "crash").allSatisfy { $0["status"] as? String == "exit 3" })
        // on-failure (the default) does not restart a clean exit.
        #expect(waitFor(stack, "agent_exited", agent: "clean"))
        #expect(entries(stack, "agent_started", agent: "clean").count == 1)
        #expect(entries(stack, "agent_output", agent: "clean").first?["line"] as? String == "done")
        // Agents start before the first generation's workers.
        let text = stack.text
        let firstAgent = try #require(text.range(of: #""event":"agent_started""#))
        let firstWorker = try #require(text.range(of: #""event":"worker_spawned""#))
        #expect(firstAgent.lowerBound < firstWorker.lowerBound)

        let agents = try statusAgents(stack)
        let crash = agents.first { $0["name"] as? String == "crash" }
        #expect(crash?["state"] as? String == "failed" && crash?["restarts"] as? Int == 2 && crash?["last_exit"] as? String == "exit 3")
        #expect(agents.first { $0["name"] as? String == "clean" }?["state"] as? String == "stopped")
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    @Test func crashLoopingAgentBacksOffWithGrowingGaps() throws {
        let scripts = try Scripts(["loop.sh": "exit 1"])
        let stack = try StackProcess(workers: 1, topLevel: """
            agents {
                agent "loop" {
                    unix-socket "/tmp/loop.sock"
                    command "\(scripts.path("loop.sh"))"
                    restart-policy "always"
                    restart-delay-ms 100
                }
            }
            """)
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        #expect(waitFor(stack, "agent_started", agent: "loop", count: 5), "log: \(stack.text)")
        let times = entries(stack, "agent_started", agent: "loop").prefix(5).map(millis)
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        // Scheduled delays 100, 200, 400, 800 ms: every gap at least its delay (spawn latency only
        // adds), and each longer than the last.
        #expect(zip(gaps, [100, 200, 400, 800]).allSatisfy { $0 >= $1 - 5 }, "gaps \(gaps)")
        #expect(zip(gaps.dropFirst(), gaps).allSatisfy { $0 > $1 }, "gaps \(gaps)")
        let scheduled = entries(stack, "agent_restart_scheduled", agent: "loop") + entries(stack, "agent_crash_loop", agent: "loop")
        #expect(Set(scheduled.compactMap { $0["delay_ms"] as? Int }).isSuperset(of: [100, 200, 400, 800]))
        #expect(waitFor(stack, "agent_crash_loop", agent: "loop"))
        let loop = try statusAgents(stack).first
        #expect((loop?["consecutive_failures"] as? Int ?? 0) >= 4)
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    @Test func agentsAreStoppedAfterTheWorkersTermThenKill() throws {
        let scripts = try Scripts([
            "polite.sh": "trap 'echo got-term; exit 0' TERM; echo up; while :; do sleep 0.05; done",
            "stubborn.sh": "trap '' TERM; echo up; while :; do sleep 0.05; done",
        ])
        let stack = try StackProcess(workers: 1, topLevel: """
            agents {
                agent "polite" { unix-socket "/tmp/p.sock"; command "\(scripts.path("polite.sh"))"; }
                agent "stubborn" { unix-socket "/tmp/s.sock"; command "\(scripts.path("stubborn.sh"))"; stop-timeout-ms 300; }
            }
            """)
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        #expect(waitFor(stack, "agent_output", agent: "polite") && waitFor(stack, "agent_output", agent: "stubborn"))
        let pids = try statusAgents(stack).compactMap { ($0["pid"] as? Int).map(Int32.init) }
        #expect(pids.count == 2)
        let stop = try stack.stack("stop")
        #expect(stop.status == 0)
        #expect(stack.exitStatus() == 0)
        let text = stack.text
        let retired = try #require(text.range(of: #""event":"generation_retired""#))
        let stopping = try #require(text.range(of: #""event":"agent_stopping""#))
        #expect(retired.lowerBound < stopping.lowerBound, "workers drain before agents get SIGTERM")
        #expect(entries(stack, "agent_output", agent: "polite").contains { $0["line"] as? String == "got-term" })
        #expect(entries(stack, "agent_stop_timeout", agent: "stubborn").count == 1)
        #expect(entries(stack, "agent_exited", agent: "stubborn").first?["status"] as? String == "signal 9")
        #expect(stack.events("agents_stopped").count == 1)
        #expect(pids.allSatisfy(processGone))
    }

    @Test func aSecondTermKillsAgentsAtOnce() throws {
        let scripts = try Scripts(["stubborn.sh": "trap '' TERM; echo up; while :; do sleep 0.05; done"])
        let stack = try StackProcess(workers: 1, topLevel: """
            agents { agent "stubborn" { unix-socket "/tmp/s.sock"; command "\(scripts.path("stubborn.sh"))"; stop-timeout-ms 60000; } }
            """)
        #expect(waitFor(stack, "agent_output", agent: "stubborn"), "log: \(stack.text)")
        let pid = try #require(try statusAgents(stack).first?["pid"] as? Int)
        kill(stack.process.processIdentifier, SIGTERM)
        #expect(waitFor(stack, "agent_stopping", agent: "stubborn"))
        kill(stack.process.processIdentifier, SIGTERM)
        #expect(stack.exitStatus(timeout: .seconds(10)) == 1)
        #expect(entries(stack, "agent_exited", agent: "stubborn").first?["status"] as? String == "signal 9")
        #expect(processGone(Int32(pid)))
    }

    @Test func stoppingAnAgentStopsItsWholeProcessGroup() throws {
        let scripts = try Scripts(["wrapper.sh": "sleep 300 & echo \"child $!\"; wait"])
        let stack = try StackProcess(workers: 1, topLevel: """
            agents { agent "wrapper" { unix-socket "/tmp/w.sock"; command "\(scripts.path("wrapper.sh"))"; } }
            """)
        #expect(waitFor(stack, "agent_output", agent: "wrapper"), "log: \(stack.text)")
        let line = try #require(entries(stack, "agent_output", agent: "wrapper").first?["line"] as? String)
        let child = try #require(Int32(line.dropFirst("child ".count)))
        #expect(!processGone(child))
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
        #expect(stack.wait(timeout: .seconds(5)) { processGone(child) }, "the wrapper's child outlived the stop")
    }

    @Test func agentsLeftByAKilledMasterAreStoppedByTheNextUp() throws {
        let scripts = try Scripts(["run.sh": "echo up; while :; do sleep 0.05; done"])
        let stack = try StackProcess(workers: 1, topLevel: """
            agents { agent "left" { unix-socket "/tmp/l.sock"; command "\(scripts.path("run.sh"))"; } }
            """)
        #expect(waitFor(stack, "agent_output", agent: "left"), "log: \(stack.text)")
        let pid = Int32(try #require(try statusAgents(stack).first?["pid"] as? Int))
        // The orphan guard would stop the agent at once; this covers the case where it is gone too
        // (everything but the agent SIGKILLed).
        let guardPid = Int32(try #require(try statusJSON(stack)["guard_pid"] as? Int))
        kill(guardPid, SIGKILL)
        #expect(stack.waitForEvent("guard_exited"))
        kill(stack.process.processIdentifier, SIGKILL)
        #expect(stack.exitStatus() != nil)
        #expect(!processGone(pid), "without the guard, the agent outlives a SIGKILLed master")
        let next = Process()
        next.executableURL = URL(fileURLWithPath: builtProducts + "/sentinel-stack")
        next.arguments = ["up", "--config", stack.configPath]
        next.standardError = FileHandle.nullDevice
        try next.run()
        #expect(stack.wait { processGone(pid) }, "the next up stopped the leftover agent")
        #expect(stack.wait { (try? statusAgents(stack).first?["pid"] as? Int) != nil })
        _ = try stack.stack("stop")
        next.waitUntilExit()
        #expect(next.terminationStatus == 0)
    }

    @Test func reloadStartsStopsAndRestartsOnlyWhatChanged() throws {
        let scripts = try Scripts(["run.sh": "echo \"run $MODE\"; while :; do sleep 0.05; done"])
        func agents(_ list: [(String, String)]) -> String {
            "agents {\n" + list.map { name, mode in
                #"agent "\#(name)" { unix-socket "/tmp/\#(name).sock"; command "\#(scripts.path("run.sh"))"; env { MODE "\#(mode)" }; stop-timeout-ms 300; }"#
            }.joined(separator: "\n") + "\n}"
        }
        let stack = try StackProcess(workers: 1, topLevel: agents([("keep", "k"), ("change", "v1"), ("drop", "d")]))
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        #expect(stack.wait { entries(stack, "agent_output").count >= 3 })
        func pid(_ name: String) throws -> Int? { try statusAgents(stack).first { $0["name"] as? String == name }?["pid"] as? Int }
        let keep = try pid("keep")
        let base = StackProcess.config(workers: 1, gracefulSecs: 5, port: stack.port, dir: stack.dir)
        try (base + "\n" + agents([("keep", "k"), ("change", "v2"), ("new", "n")])).write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        let r = try stack.stack("reload")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(waitFor(stack, "agent_output", agent: "new"))
        #expect(stack.wait { entries(stack, "agent_output", agent: "change").contains { $0["line"] as? String == "run v2" } })
        #expect(waitFor(stack, "agent_exited", agent: "drop"))
        #expect(try pid("keep") == keep)
        #expect(entries(stack, "agent_started", agent: "keep").count == 1)
        #expect(try statusAgents(stack).map { $0["name"] as? String } == ["keep", "change", "new"])

        // An undefined variable fails the reload, naming it; the agents keep running.
        try (base + "\n" + #"agents { agent "keep" { unix-socket "/tmp/k.sock"; command "/bin/true"; env { X "${SST_SURELY_UNDEFINED}" } } }"#)
            .write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        let bad = try stack.stack("reload")
        #expect(bad.status == 1 && bad.stderr.contains("SST_SURELY_UNDEFINED"), "\(bad.stderr)")
        #expect(try pid("keep") == keep)
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    @Test func undefinedVariableRefusesToStart() throws {
        let stack = try StackProcess(workers: 1, topLevel: """
            agents { agent "a" { unix-socket "/tmp/a.sock"; command "/bin/true"; env { TOKEN "${SST_SURELY_UNDEFINED}" } } }
            """)
        #expect(stack.exitStatus() == 1)
        #expect(stack.events("startup_failed").first?.contains("SST_SURELY_UNDEFINED") == true, "log: \(stack.text)")
    }
}

/// `system { user; group }` under sentinel-stack: workers and agents drop to the user. Needs root.
@Suite(.serialized) struct PrivilegeDropIntegrationTests {
    /// The distinct real/effective/saved/fs uids of every thread of `pid` (credentials are per
    /// thread: a thread glibc's setuid broadcast missed would keep root).
    func uids(_ pid: Int32) -> Set<String> {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var out = Set<String>()
        for t in tasks {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/task/\(t)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("Uid:") } ?? ""
            out.formUnion(line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().map(String.init))
        }
        return out
    }

    func entries(_ stack: StackProcess) -> [[String: Any]] {
        stack.events("agent_started").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    @Test(.enabled(if: getuid() == 0, "the master must be root to drop privileges"))
    func reloadOntoAUserDropsWorkersAndAgents() throws {
        let scripts = try AgentIntegrationTests.Scripts(["agent.sh": "echo \"uid $(id -u)\"; while :; do sleep 0.05; done"])
        chmod(scripts.dir, 0o755)
        let agents = #"agents { agent "a" { unix-socket "/tmp/a.sock"; command "\#(scripts.path("agent.sh"))"; stop-timeout-ms 300; } }"#
        let stack = try StackProcess(workers: 1, topLevel: agents)
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        let rootWorker = try #require(try stack.livePids().first)
        #expect(uids(rootWorker) == ["0"])
        let base = StackProcess.config(workers: 1, gracefulSecs: 5, port: stack.port, dir: stack.dir)
        let dropped = base.replacingOccurrences(of: "system {", with: "system {\n    user \"nobody\"\n    group \"nogroup\"")
        try (dropped + "\n" + agents).write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        let r = try stack.stack("reload")
        #expect(r.status == 0, "\(r.stderr)")
        let worker = try #require(try stack.livePids().first)
        #expect(uids(worker) == ["65534"])
        #expect(try KeepAliveClient(port: stack.port).get("/health").status == 200)
        // The agent's credentials changed, so it was restarted through exec-as as nobody.
        #expect(stack.wait { stack.text.contains(#""line":"uid 65534""#) }, "log: \(stack.text)")
        let agentPid = try #require(stack.wait { entries(stack).count == 2 } ? entries(stack).last?["agent_pid"] as? Int : nil)
        #expect(uids(Int32(agentPid)) == ["65534"])
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    @Test func unknownUserRefusesToStart() throws {
        let stack = try StackProcess(workers: 1)
        #expect(stack.waitForEvent("started"), "log: \(stack.text)")
        let base = StackProcess.config(workers: 1, gracefulSecs: 5, port: stack.port, dir: stack.dir)
        try base.replacingOccurrences(of: "system {", with: "system {\n    user \"sst-no-such-user\"")
            .write(toFile: stack.configPath, atomically: true, encoding: .utf8)
        let r = try stack.stack("reload")
        #expect(r.status == 1 && r.stderr.contains("sst-no-such-user"), "\(r.stderr)")
        _ = try stack.stack("stop")
        #expect(stack.exitStatus() == 0)
    }

    /// exec-as never runs its program when the drop fails (here: not root, so setgid(0) fails).
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func execAsRefusesWhenTheDropFails() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", builtProducts + "/sentinel-stack",
                       "exec-as", "root", "0", "0", "/bin/echo", "--", "echo", "ran"]
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 126)
        #expect(o.isEmpty && e.contains("refusing to start /bin/echo"), "stdout \(o) stderr \(e)")
    }
}
