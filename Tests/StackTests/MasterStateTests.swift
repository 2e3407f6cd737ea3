import Logging
import SentinelObservability
import Testing
@testable import SentinelMaster

/// The master's rules without processes: events in, actions out.
@Suite struct MasterStateTests {
    typealias A = MasterState.Action

    /// Starts generation `g` with `n` workers whose pids are `base + slot`, all READY.
    func live(_ s: inout MasterState, g: Int, n: Int, base: Int32, now: Duration = .zero) -> [A] {
        var out = s.handle(.prepared(generation: g, workers: n, drainTimeout: .seconds(5)), now: now)
        for slot in 0..<n { out += s.handle(.spawned(generation: g, slot: slot, pid: base + Int32(slot)), now: now) }
        for slot in 0..<n { out += s.handle(.message(pid: base + Int32(slot), .ready), now: now) }
        return out
    }

    func events(_ actions: [A]) -> [String] {
        actions.compactMap { if case .log(let e) = $0 { return e.event }; return nil }
    }

    @Test func firstGenerationGoesLiveOnlyWhenEveryWorkerIsReady() {
        var s = MasterState()
        var out = s.handle(.prepared(generation: 1, workers: 2, drainTimeout: .seconds(5)), now: .zero)
        #expect(out.contains(.spawn(generation: 1, slot: 0)) && out.contains(.spawn(generation: 1, slot: 1)))
        _ = s.handle(.spawned(generation: 1, slot: 0, pid: 10), now: .zero)
        _ = s.handle(.spawned(generation: 1, slot: 1, pid: 11), now: .zero)
        out = s.handle(.message(pid: 10, .ready), now: .zero)
        #expect(!out.contains(.live(generation: 1)))
        out = s.handle(.message(pid: 11, .ready), now: .zero)
        #expect(out.contains(.live(generation: 1)))
        #expect(out.contains { if case .notify(let t) = $0 { return t.hasPrefix("READY=1") }; return false })
        #expect(events(out).contains("started"))
        #expect(s.phase == .running)
    }

    @Test func reloadDrainsTheOldGenerationOnlyAfterTheNewOneIsReady() {
        var s = MasterState()
        _ = live(&s, g: 1, n: 2, base: 10)
        var out = s.handle(.prepared(generation: 2, workers: 2, drainTimeout: .seconds(5)), now: .zero)
        #expect(!out.contains(.send(pid: 10, .drain)))
        _ = s.handle(.spawned(generation: 2, slot: 0, pid: 20), now: .zero)
        _ = s.handle(.spawned(generation: 2, slot: 1, pid: 21), now: .zero)
        out = s.handle(.message(pid: 20, .ready), now: .zero)
        #expect(!out.contains(.send(pid: 10, .drain)))
        out = s.handle(.message(pid: 21, .ready), now: .zero)
        #expect(out.contains(.live(generation: 2)))
        #expect(out.contains(.send(pid: 10, .drain)) && out.contains(.send(pid: 11, .drain)))
        #expect(events(out).contains("reloaded"))
        _ = s.handle(.exited(pid: 10, .exited(0)), now: .zero)
        out = s.handle(.exited(pid: 11, .exited(0)), now: .zero)
        #expect(out.contains(.retired(generation: 1)))
        #expect(s.generations.map(\.id) == [2])
    }

    @Test func aWorkerDyingBeforeReadyFailsTheReloadAndKeepsTheOldGeneration() {
        var s = MasterState()
        _ = live(&s, g: 1, n: 1, base: 10)
        _ = s.handle(.prepared(generation: 2, workers: 2, drainTimeout: .seconds(5)), now: .zero)
        _ = s.handle(.spawned(generation: 2, slot: 0, pid: 20), now: .zero)
        _ = s.handle(.spawned(generation: 2, slot: 1, pid: 21), now: .zero)
        _ = s.handle(.message(pid: 20, .ready), now: .zero)
        let out = s.handle(.exited(pid: 21, .exited(2)), now: .zero)
        #expect(out.contains { if case .failed(2, _) = $0 { return true }; return false })
        #expect(out.contains(.send(pid: 20, .drain)))  // it may already accept: drain, don't kill
        #expect(!out.contains(.send(pid: 10, .drain)))
        #expect(s.liveGeneration == 1 && s.phase == .running)
    }

    @Test func readyTimeoutFailsTheGeneration() {
        var s = MasterState()
        _ = live(&s, g: 1, n: 1, base: 10)
        _ = s.handle(.prepared(generation: 2, workers: 1, drainTimeout: .seconds(5)), now: .zero)
        _ = s.handle(.spawned(generation: 2, slot: 0, pid: 20), now: .zero)
        let out = s.handle(.timer(.readyDeadline(generation: 2)), now: .seconds(60))
        #expect(out.contains { if case .failed(2, _) = $0 { return true }; return false })
        #expect(s.liveGeneration == 1)
    }

    @Test func aFailedFirstGenerationStopsTheMasterWithOne() {
        var s = MasterState()
        _ = s.handle(.prepared(generation: 1, workers: 1, drainTimeout: .seconds(5)), now: .zero)
        _ = s.handle(.spawned(generation: 1, slot: 0, pid: 10), now: .zero)
        let out = s.handle(.exited(pid: 10, .exited(2)), now: .zero)
        #expect(out.contains(.exit(code: 1)))
    }

    /// 4 → 2 workers: new worker 0 also serves socket 2 (and 1 serves 3), so it accepts only once
    /// old workers 0 and 2 closed their listeners.
    @Test func fewerWorkersWaitForEveryOldWorkerSharingTheirSockets() {
        var s = MasterState()
        _ = live(&s, g: 1, n: 4, base: 10)
        for slot in 0..<4 { _ = s.handle(.message(pid: 10 + Int32(slot), .ready), now: .zero) }
        _ = s.handle(.prepared(generation: 2, workers: 2, drainTimeout: .seconds(5)), now: .zero)
        _ = s.handle(.spawned(generation: 2, slot: 0, pid: 20), now: .zero)
        _ = s.handle(.spawned(generation: 2, slot: 1, pid: 21), now: .zero)
        _ = s.handle(.message(pid: 20, .ready), now: .zero)
        var out = s.handle(.message(pid: 21, .ready), now: .zero)
        #expect(out.contains(.live(generation: 2)))
        #expect(!out.contains(.send(pid: 20, .accept)) && !out.contains(.send(pid: 21, .accept)))
        out = s.handle(.message(pid: 10, .listenersClosed), now: .zero)
        #expect(!out.contains(.send(pid: 20, .accept)), "old worker 2 still polls socket 2")
        out = s.handle(.message(pid: 12, .listenersClosed), now: .zero)
        #expect(out.contains(.send(pid: 20, .accept)))
        out = s.handle(.message(pid: 11, .listenersClosed), now: .zero) + s.handle(.message(pid: 13, .listenersClosed), now: .zero)
        #expect(out.contains(.send(pid: 21, .accept)))
    }

    @Test func aWorkersOwnReasonIsTheVerdictAndStoppedIsLoggedOnce() {
        var s = MasterState()
        _ = s.handle(.prepared(generation: 1, workers: 1, drainTimeout: .seconds(5)), now: .zero)
        _ = s.handle(.spawned(generation: 1, slot: 0, pid: 10), now: .zero)
        var out = s.handle(.message(pid: 10, .failed("cannot open access log /x/a.log: No such file or directory")), now: .zero)
        #expect(events(out) == ["worker_failed"])
        out = s.handle(.exited(pid: 10, .exited(2)), now: .zero)
        let reason = out.compactMap { a -> String? in if case .failed(1, let r) = a { return r }; return nil }.first
        #expect(reason == "worker 0 (pid 10) could not start: cannot open access log /x/a.log: No such file or directory")
        #expect(events(out).filter { $0 == "stopped" }.count == 1)
        #expect(out.filter { if case .exit = $0 { return true }; return false }.count == 1)
        // Without a reason the verdict says how the worker ended.
        var t = MasterState()
        _ = t.handle(.prepared(generation: 1, workers: 1, drainTimeout: .seconds(5)), now: .zero)
        _ = t.handle(.spawned(generation: 1, slot: 0, pid: 10), now: .zero)
        out = t.handle(.exited(pid: 10, .signaled(9)), now: .zero)
        #expect(out.contains { if case .failed(1, let r) = $0 { return r.hasSuffix("ended with signal 9 before READY") }; return false })
    }

    @Test func failedLinesRoundTripOnOneBoundedLine() {
        let line = WorkerMessage.failed("a\nb").line
        #expect(line == "FAILED a b\n")
        #expect(WorkerMessage(line: line.dropLast()) == .failed("a b"))
        let long = WorkerMessage.failed(String(repeating: "x", count: 10_000)).line
        #expect(long.utf8.count < LineBuffer.maxLine)
    }

    @Test func crashLoopBacksOffExponentiallyAndAStableWorkerResetsIt() {
        var s = MasterState()
        _ = live(&s, g: 1, n: 1, base: 10)
        var pid: Int32 = 10
        var delays: [Duration?] = []
        var now = Duration.seconds(1)
        for _ in 0..<5 {
            let out = s.handle(.exited(pid: pid, .signaled(9)), now: now)
            if out.contains(.spawn(generation: 1, slot: 0)) {
                delays.append(nil)
            } else {
                let d = out.compactMap { a -> Duration? in if case .schedule(.respawn(1, 0), let d) = a { return d }; return nil }.first
                delays.append(d)
                _ = s.handle(.timer(.respawn(generation: 1, slot: 0)), now: now)
            }
            pid += 1
            _ = s.handle(.spawned(generation: 1, slot: 0, pid: pid), now: now)
            now += .milliseconds(10)
        }
        #expect(delays == [nil, .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800)])
        // After a long life the next crash respawns at once again.
        let out = s.handle(.exited(pid: pid, .exited(1)), now: now + .seconds(60))
        #expect(out.contains(.spawn(generation: 1, slot: 0)))
        #expect(s.generations[0].workers[0].restarts == 6)
    }

    @Test func gracefulStopDrainsEverythingAndExitsZeroWhenClean() {
        var s = MasterState()
        _ = live(&s, g: 1, n: 2, base: 10)
        var out = s.handle(.stop(signal: 15), now: .zero)
        #expect(out.contains(.send(pid: 10, .drain)) && out.contains(.send(pid: 11, .drain)))
        #expect(out.contains(.notify("STOPPING=1\nSTATUS=stopping")))
        _ = s.handle(.message(pid: 10, .drained(clean: true)), now: .zero)
        _ = s.handle(.exited(pid: 10, .exited(0)), now: .zero)
        out = s.handle(.exited(pid: 11, .exited(0)), now: .zero)
        #expect(out.contains(.exit(code: 0)))
    }

    @Test func stopDeadlineKillsAndExitsOne() {
        var s = MasterState()
        _ = live(&s, g: 1, n: 1, base: 10)
        _ = s.handle(.stop(signal: 15), now: .zero)
        var out = s.handle(.timer(.stopDeadline), now: .seconds(10))
        #expect(out.contains(.kill(pid: 10)))
        out = s.handle(.exited(pid: 10, .signaled(9)), now: .seconds(10))
        #expect(out.contains(.exit(code: 1)))
    }

    @Test func secondStopSignalKillsAtOnce() {
        var s = MasterState()
        _ = live(&s, g: 1, n: 2, base: 10)
        _ = s.handle(.stop(signal: 15), now: .zero)
        let out = s.handle(.stop(signal: 2), now: .zero)
        #expect(out.contains(.kill(pid: 10)) && out.contains(.kill(pid: 11)))
        #expect(events(out).contains("fast_stop"))
    }

    /// Regression: once the workers were gone (exit decided, agents still stopping), a second
    /// signal must still make the exit unclean; deciding the exit once had kept it at 0.
    @Test func aSecondStopSignalAfterTheWorkersLeftStillExitsOne() {
        var s = MasterState()
        _ = live(&s, g: 1, n: 1, base: 10)
        _ = s.handle(.stop(signal: 15), now: .zero)
        var out = s.handle(.exited(pid: 10, .exited(0)), now: .zero)
        #expect(out.contains(.exit(code: 0)))
        out = s.handle(.stop(signal: 15), now: .zero)
        #expect(out.contains(.exit(code: 1)) && events(out) == ["fast_stop"], "no second stopped line")
    }

    @Test func crashedWorkersAreNotRespawnedWhileStopping() {
        var s = MasterState()
        _ = live(&s, g: 1, n: 1, base: 10)
        _ = s.handle(.stop(signal: 15), now: .zero)
        let out = s.handle(.exited(pid: 10, .signaled(9)), now: .zero)
        #expect(!out.contains(.spawn(generation: 1, slot: 0)))
        #expect(out.contains(.exit(code: 1)))
    }

    // MARK: - Accept hand-over

    @Test func aNewWorkerAcceptsOnlyOnceTheOldOneOfItsSlotClosedItsListeners() {
        var s = MasterState()
        let first = live(&s, g: 1, n: 2, base: 10)
        #expect(first.contains(.send(pid: 10, .accept)) && first.contains(.send(pid: 11, .accept)), "nothing to wait for")
        _ = s.handle(.prepared(generation: 2, workers: 2, drainTimeout: .seconds(5)), now: .zero)
        _ = s.handle(.spawned(generation: 2, slot: 0, pid: 20), now: .zero)
        _ = s.handle(.spawned(generation: 2, slot: 1, pid: 21), now: .zero)
        var out = s.handle(.message(pid: 20, .ready), now: .zero)
        out += s.handle(.message(pid: 21, .ready), now: .zero)
        #expect(out.contains(.live(generation: 2)) && out.contains(.send(pid: 10, .drain)))
        #expect(!out.contains(.send(pid: 20, .accept)) && !out.contains(.send(pid: 21, .accept)))
        #expect(out.contains(.schedule(.acceptHandover(generation: 2), after: .seconds(1))))
        out = s.handle(.message(pid: 11, .listenersClosed), now: .zero)
        #expect(out == [
            .log(LogEntry("info", "worker_listeners_closed", [("generation", .int(1)), ("slot", .int(1)), ("worker_pid", .int(11))])),
            .send(pid: 21, .accept),
            .log(LogEntry("info", "worker_accepting", [("generation", .int(2)), ("slot", .int(1)), ("worker_pid", .int(21))])),
        ])
        // Slot 0's old worker exits without saying so: its exit frees the slot as well.
        out = s.handle(.exited(pid: 10, .exited(0)), now: .zero)
        #expect(out.contains(.send(pid: 20, .accept)))
        // The hand-over timer then has nothing left to do.
        #expect(!s.handle(.timer(.acceptHandover(generation: 2)), now: .seconds(1)).contains { if case .send = $0 { return true }; return false })
    }

    @Test func aWedgedOldWorkerDelaysTheHandOverOnlyUntilTheTimer() {
        var s = MasterState()
        _ = live(&s, g: 1, n: 1, base: 10)
        _ = s.handle(.prepared(generation: 2, workers: 1, drainTimeout: .seconds(5)), now: .zero)
        _ = s.handle(.spawned(generation: 2, slot: 0, pid: 20), now: .zero)
        let out = s.handle(.message(pid: 20, .ready), now: .zero)
        #expect(!out.contains(.send(pid: 20, .accept)))
        let fired = s.handle(.timer(.acceptHandover(generation: 2)), now: .seconds(1))
        #expect(fired.contains(.send(pid: 20, .accept)))
        #expect(events(fired).contains("accept_handover_timeout"))
    }

    @Test func aFailedReloadNeverAcceptsAndARespawnAcceptsAtOnce() {
        var s = MasterState()
        _ = live(&s, g: 1, n: 2, base: 10)
        _ = s.handle(.prepared(generation: 2, workers: 2, drainTimeout: .seconds(5)), now: .zero)
        _ = s.handle(.spawned(generation: 2, slot: 0, pid: 20), now: .zero)
        _ = s.handle(.spawned(generation: 2, slot: 1, pid: 21), now: .zero)
        var out = s.handle(.message(pid: 20, .ready), now: .zero)
        out += s.handle(.exited(pid: 21, .exited(2)), now: .zero)
        #expect(!out.contains(.send(pid: 20, .accept)))
        // Generation 1 kept serving; a crashed worker's replacement accepts as soon as it is READY.
        _ = s.handle(.exited(pid: 10, .signaled(9)), now: .seconds(20))
        _ = s.handle(.spawned(generation: 1, slot: 0, pid: 30), now: .seconds(20))
        out = s.handle(.message(pid: 30, .ready), now: .seconds(20))
        #expect(out.contains(.send(pid: 30, .accept)))
    }

    @Test func sharedSocketsHandOverPerGeneration() {
        var s = MasterState()
        var out = s.handle(.prepared(generation: 1, workers: 2, drainTimeout: .seconds(5), sharedSockets: true), now: .zero)
        for slot in 0..<2 { out += s.handle(.spawned(generation: 1, slot: slot, pid: 10 + Int32(slot)), now: .zero) }
        for slot in 0..<2 { out += s.handle(.message(pid: 10 + Int32(slot), .ready), now: .zero) }
        _ = s.handle(.prepared(generation: 2, workers: 2, drainTimeout: .seconds(5), sharedSockets: true), now: .zero)
        for slot in 0..<2 { _ = s.handle(.spawned(generation: 2, slot: slot, pid: 20 + Int32(slot)), now: .zero) }
        for slot in 0..<2 { _ = s.handle(.message(pid: 20 + Int32(slot), .ready), now: .zero) }
        out = s.handle(.message(pid: 10, .listenersClosed), now: .zero)
        #expect(!out.contains(.send(pid: 20, .accept)), "slot 1 of generation 1 still polls the one shared socket")
        out = s.handle(.message(pid: 11, .listenersClosed), now: .zero)
        #expect(out.contains(.send(pid: 20, .accept)) && out.contains(.send(pid: 21, .accept)))
    }
}

@Suite struct ControlProtocolTests {
    @Test func linesRoundTrip() throws {
        var buffer = LineBuffer()
        let text = WorkerMessage.ready.line + WorkerMessage.drained(clean: false).line + "STAT"
        let lines = try buffer.append(Array(text.utf8))
        #expect(lines.compactMap(WorkerMessage.init(line:)) == [.ready, .drained(clean: false)])
        #expect(try buffer.append(Array("US busy\n".utf8)).compactMap(WorkerMessage.init(line:)) == [.status("busy")])
        #expect(MasterMessage(line: "DRAIN") == .drain && MasterMessage(line: "REOPEN-LOGS") == .reopenLogs)
        #expect(throws: LineBuffer.Failure.lineTooLong) { try buffer.append([UInt8](repeating: 65, count: 5000)) }
    }

    @Test func exitStatusDecoding() {
        #expect(ExitStatus(waitStatus: 0) == .exited(0))
        #expect(ExitStatus(waitStatus: 3 << 8) == .exited(3))
        #expect(ExitStatus(waitStatus: 9) == .signaled(9))
    }

    @Test func addressesAndAnswers() {
        #expect(ListenAddress("::1:8080") == ListenAddress(host: "::1", port: 8080))
        #expect(ListenAddress("[::]:80") == ListenAddress(host: "::", port: 80))
        #expect(ListenAddress(host: "::1", port: 1).description == "[::1]:1")
        let f = FlatJSON.fields(#"{"ok":false,"error":"bad \"x\"\nline","n":3,"g":[{"a":1}],"d":"z"}"#)
        #expect(f["ok"] == "false" && f["error"] == "bad \"x\"\nline" && f["n"] == "3" && f["g"] == nil && f["d"] == "z")
    }

    @Test func defaultRuntimeDirectoryDependsOnTheConfigPath() {
        let a = RuntimeDirectory.defaultFor(configPath: "/etc/a/sentinel.kdl", uid: 1000, environment: ["XDG_RUNTIME_DIR": "/run/user/1000"])
        let b = RuntimeDirectory.defaultFor(configPath: "/etc/b/sentinel.kdl", uid: 1000, environment: ["XDG_RUNTIME_DIR": "/run/user/1000"])
        #expect(a.path.hasPrefix("/run/user/1000/sentinel-stack/sentinel-"))
        #expect(a != b)
        #expect(RuntimeDirectory.defaultFor(configPath: "/etc/a/sentinel.kdl", uid: 0, environment: [:]).path.hasPrefix("/run/sentinel-stack/"))
    }
}
