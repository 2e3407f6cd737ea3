import Foundation
import SentinelConfig
import Testing
@testable import SentinelMaster

/// Agent supervision rules without processes: events in, actions out.
@Suite struct AgentSupervisorTests {
    typealias A = AgentSupervisor.Action

    func spec(_ name: String, _ policy: AgentSpec.RestartPolicy = .onFailure, delay: Duration = .milliseconds(100), max: Int? = nil) -> AgentSpec {
        AgentSpec(name: name, command: ["/bin/true"], restartPolicy: policy, restartDelay: delay, maxRestarts: max)
    }

    func events(_ actions: [A]) -> [String] {
        actions.compactMap { if case .log(let e) = $0 { return e.event }; return nil }
    }

    func delays(_ actions: [A]) -> [Duration] {
        actions.compactMap { if case .schedule(.restart, let d) = $0 { return d }; return nil }
    }

    func spawns(_ actions: [A]) -> [String] {
        actions.compactMap { if case .spawn(let s) = $0 { return s.name }; return nil }
    }

    /// Configures one agent and reports it running as `pid`.
    func running(_ s: inout AgentSupervisor, _ sp: AgentSpec, pid: Int32, now: Duration = .zero) {
        let out = s.handle(.configure([sp]), now: now)
        #expect(spawns(out) == [sp.name])
        _ = s.handle(.spawned(agent: sp.name, pid: pid), now: now)
    }

    @Test func policyByExitStatusMatrix() {
        let cases: [(AgentSpec.RestartPolicy, SentinelMaster.ExitStatus, Bool)] = [
            (.always, .exited(0), true), (.always, .exited(3), true), (.always, .signaled(9), true),
            (.onFailure, .exited(0), false), (.onFailure, .exited(3), true), (.onFailure, .signaled(9), true),
            (.never, .exited(0), false), (.never, .exited(3), false), (.never, .signaled(9), false),
        ]
        for (policy, status, restart) in cases {
            #expect(AgentSupervisor.restarts(policy, after: status) == restart, "\(policy) \(status)")
            var s = AgentSupervisor()
            running(&s, spec("a", policy), pid: 10)
            let out = s.handle(.exited(pid: 10, status), now: .seconds(1))
            #expect((delays(out).count == 1) == restart, "\(policy) \(status)")
            #expect(s.agents["a"]?.state == (restart ? .backoff : .stopped))
            #expect(s.agents["a"]?.lastExit == status.description)
        }
    }

    @Test func backoffDoublesFromTheBaseDelayUpToTheCapAndNeverSpins() {
        let s = AgentSupervisor()
        let base = Duration.milliseconds(250)
        #expect((1...9).map { s.backoff(base: base, failures: $0) } == [
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30),
        ])
        // restart-delay-ms 0: the first restart is immediate, later ones are floored and grow.
        #expect((1...4).map { s.backoff(base: .zero, failures: $0) } == [.zero, .milliseconds(200), .milliseconds(400), .milliseconds(800)])
    }

    @Test func aCrashLoopBacksOffIsReportedAndResetsAfterAStableRun() {
        var s = AgentSupervisor()
        running(&s, spec("a", delay: .milliseconds(100)), pid: 10)
        var now = Duration.zero
        var seen: [Duration] = []
        var reported = false
        for i in 0..<5 {
            now += .milliseconds(50)
            let out = s.handle(.exited(pid: 10 + Int32(i), .exited(1)), now: now)
            seen += delays(out)
            if events(out).contains("agent_crash_loop") {
                reported = true
                #expect(out.contains { if case .notify(let t) = $0 { return t.contains("crash-looping") }; return false })
            }
            let restart = s.handle(.timer(.restart(agent: "a", incarnation: s.agents["a"]!.incarnation)), now: now)
            #expect(spawns(restart) == ["a"])
            _ = s.handle(.spawned(agent: "a", pid: 11 + Int32(i)), now: now)
        }
        #expect(seen == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600)])
        #expect(reported)
        #expect(s.agents["a"]?.restarts == 5)
        // The last restart of the loop arms a stability check; when it fires, the recovery is reported.
        let inc = s.agents["a"]!.incarnation
        let recovered = s.handle(.timer(.stable(agent: "a", incarnation: inc)), now: now + .seconds(10))
        #expect(events(recovered) == ["agent_recovered"])
        #expect(recovered.contains(.notify("STATUS=agent a recovered after 5 consecutive failures")))
        #expect(s.agents["a"]?.failures == 0)
        // Up for longer than stableAfter: the next crash starts a new streak at the base delay.
        let out = s.handle(.exited(pid: 15, .exited(1)), now: now + .seconds(11))
        #expect(delays(out) == [.milliseconds(100)])
        #expect(s.agents["a"]?.failures == 1)
    }

    @Test func maxRestartsGivesUpAndReportsIt() {
        var s = AgentSupervisor()
        running(&s, spec("a", max: 2), pid: 10)
        for i in 0..<2 {
            let out = s.handle(.exited(pid: 10 + Int32(i), .exited(1)), now: .zero)
            #expect(delays(out).count == 1)
            _ = s.handle(.timer(.restart(agent: "a", incarnation: s.agents["a"]!.incarnation)), now: .zero)
            _ = s.handle(.spawned(agent: "a", pid: 11 + Int32(i)), now: .zero)
        }
        let out = s.handle(.exited(pid: 12, .exited(1)), now: .zero)
        #expect(delays(out).isEmpty)
        #expect(events(out).contains("agent_gave_up"))
        #expect(out.contains { if case .notify(let t) = $0 { return t.contains("gave up") }; return false })
        #expect(s.agents["a"]?.state == .failed)
        // An unchanged agent given up on is retried on reload.
        #expect(spawns(s.handle(.configure([spec("a", max: 2)]), now: .zero)) == ["a"])
    }

    @Test func aFailedSpawnIsAFailureWithBackoff() {
        var s = AgentSupervisor()
        _ = s.handle(.configure([spec("a")]), now: .zero)
        let out = s.handle(.spawnFailed(agent: "a", reason: "No such file or directory"), now: .zero)
        #expect(delays(out) == [.milliseconds(100)])
        #expect(s.agents["a"]?.lastExit == "spawn failed: No such file or directory")
        var never = AgentSupervisor()
        _ = never.handle(.configure([spec("n", .never)]), now: .zero)
        #expect(delays(never.handle(.spawnFailed(agent: "n", reason: "x"), now: .zero)).isEmpty)
        #expect(never.agents["n"]?.state == .stopped)
    }

    @Test func staleRestartTimersAreIgnored() {
        var s = AgentSupervisor()
        running(&s, spec("a"), pid: 10)
        _ = s.handle(.exited(pid: 10, .exited(1)), now: .zero)
        let incarnation = s.agents["a"]!.incarnation
        #expect(spawns(s.handle(.timer(.restart(agent: "a", incarnation: incarnation)), now: .zero)) == ["a"])
        #expect(spawns(s.handle(.timer(.restart(agent: "a", incarnation: incarnation)), now: .zero)).isEmpty)
    }

    @Test func reloadStartsNewStopsRemovedRestartsChangedKeepsUnchanged() {
        var s = AgentSupervisor()
        _ = s.handle(.configure([spec("keep"), spec("drop"), spec("change")]), now: .zero)
        _ = s.handle(.spawned(agent: "keep", pid: 1), now: .zero)
        _ = s.handle(.spawned(agent: "drop", pid: 2), now: .zero)
        _ = s.handle(.spawned(agent: "change", pid: 3), now: .zero)
        var changed = spec("change")
        changed.environment = ["A=2"]
        let out = s.handle(.configure([spec("keep"), changed, spec("new")]), now: .zero)
        #expect(spawns(out) == ["new"])
        #expect(out.contains(.signal(pid: 2, AgentSupervisor.sigterm)))
        #expect(out.contains(.signal(pid: 3, AgentSupervisor.sigterm)))
        #expect(!out.contains(.signal(pid: 1, AgentSupervisor.sigterm)))
        #expect(events(out).contains("agent_removed") && events(out).contains("agent_changed"))
        // The changed agent is started with its new spec once the old process is gone.
        let restart = s.handle(.exited(pid: 3, .signaled(15)), now: .zero)
        #expect(restart.contains(.spawn(changed)))
        // The removed one is forgotten once it exited.
        _ = s.handle(.exited(pid: 2, .signaled(15)), now: .zero)
        #expect(s.agents["drop"] == nil)
        #expect(s.order == ["keep", "change", "new"])
    }

    @Test func anAgentReAddedWhileStillStoppingStartsOnceTheOldProcessExited() {
        var s = AgentSupervisor()
        running(&s, spec("a"), pid: 1)
        _ = s.handle(.configure([]), now: .zero)
        #expect(s.agents["a"]?.state == .stopping)
        #expect(spawns(s.handle(.configure([spec("a")]), now: .zero)).isEmpty)
        #expect(s.handle(.timer(.kill(agent: "a", pid: 1)), now: .zero).contains(.signal(pid: 1, AgentSupervisor.sigkill)))
        #expect(spawns(s.handle(.exited(pid: 1, .signaled(9)), now: .zero)) == ["a"])
        #expect(s.order == ["a"])
    }

    @Test func stopTermsThenKillsAfterTheStopTimeoutAndReportsAllStopped() {
        var s = AgentSupervisor()
        var a = spec("a")
        a.stopTimeout = .milliseconds(700)
        _ = s.handle(.configure([a, spec("b")]), now: .zero)
        _ = s.handle(.spawned(agent: "a", pid: 1), now: .zero)
        _ = s.handle(.spawnFailed(agent: "b", reason: "x"), now: .zero)
        let out = s.handle(.stop, now: .zero)
        #expect(out.contains(.signal(pid: 1, AgentSupervisor.sigterm)))
        #expect(out.contains(.schedule(.kill(agent: "a", pid: 1), after: .milliseconds(700))))
        #expect(!out.contains(.allStopped))
        #expect(s.agents["b"]?.state == .stopped)
        #expect(s.handle(.timer(.kill(agent: "a", pid: 1)), now: .zero).contains(.signal(pid: 1, AgentSupervisor.sigkill)))
        let end = s.handle(.exited(pid: 1, .signaled(9)), now: .zero)
        #expect(end.contains(.allStopped))
        #expect(delays(end).isEmpty)
        // Nothing restarts or starts while stopping.
        #expect(s.handle(.timer(.restart(agent: "b", incarnation: 0)), now: .zero).isEmpty)
        #expect(s.handle(.configure([spec("c")]), now: .zero).isEmpty)
    }

    @Test func expansionUsesTheMastersEnvironmentAndNamesAnUndefinedVariable() throws {
        #expect(AgentSpec.expand("a${X}b$c${Y}", environment: ["X": "1", "Y": ""]) == .success("a1b$c"))
        #expect(AgentSpec.expand("${NOPE}", environment: [:]) == .failure(.init(name: "NOPE")))
        let text = """
            system { worker-threads 1 }
            listeners { listener "http" { address "127.0.0.1:0" } }
            routes { route "h" { matches { path "/health" }; builtin-handler "health" } }
            agents {
                agent "waf" {
                    unix-socket "/tmp/waf.sock"
                    command "/bin/echo" "hi"
                    env { TOKEN "${SENTINEL_TEST_UNSET_VAR}" }
                }
            }
            """
        let result = ConfigLoader.load(text: text)
        guard case .success(let loaded) = result else {
            if case .failure(let e) = result { Issue.record("the configuration should load:\n\(e.rendered())") }
            return
        }
        guard case .failure(let error) = AgentSpec.all(in: loaded.config, environment: [:]) else {
            Issue.record("an undefined variable must fail")
            return
        }
        #expect(error.description.contains("SENTINEL_TEST_UNSET_VAR") && error.description.contains("\"waf\""))
        let specs = try AgentSpec.all(in: loaded.config, environment: ["SENTINEL_TEST_UNSET_VAR": "s3"]).get()
        #expect(specs.map(\.environment) == [["TOKEN=s3"]])
    }

    @Test func outputLinesAreBoundedAndTruncatedWithAMarker() {
        var lines = OutputLines(limit: 8)
        #expect(lines.append(Array("ab\r\ncd".utf8)).map(\.line) == ["ab"])
        let long = lines.append(Array("efghijklmnop".utf8))
        #expect(long.map(\.line) == ["cdefghij"] && long.map(\.truncated) == [true])
        #expect(lines.append(Array("qrs\nok\n".utf8)).map(\.line) == ["ok"])
        #expect(lines.append(Array("tail".utf8)).isEmpty)
        #expect(lines.finish().map(\.line) == ["tail"])
    }

    @Test func privilegeDropResolution() throws {
        #expect(throws: ControlError.self) { try PrivilegeDrop.resolve(user: nil, group: "nogroup").get() }
        #expect(throws: ControlError.self) { try PrivilegeDrop.resolve(user: "sst-no-such-user", group: nil).get() }
        #expect(try PrivilegeDrop.resolve(user: nil, group: nil).get() == nil)
        if getuid() == 0 {
            let drop = try PrivilegeDrop.resolve(user: "nobody", group: "nogroup").get()
            #expect(drop == PrivilegeDrop(user: "nobody", uid: 65534, gid: 65534))
            #expect(drop?.execArguments(program: "/bin/a", arguments: ["a", "-x"])
                == ["sentinel-stack", "exec-as", "nobody", "65534", "65534", "/bin/a", "--", "a", "-x"])
        } else {
            #expect(throws: ControlError.self) { try PrivilegeDrop.resolve(user: "root", group: nil).get() }
        }
    }
}
