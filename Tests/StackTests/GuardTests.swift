import CSentinelGuard
import SentinelMaster
import Testing

/// The orphan guard's protocol and rules, without processes.
struct GuardTests {
    @Test func messagesRoundTrip() {
        let messages: [GuardMessage] = [
            .watch(pid: 42, startTime: "12345", term: true, killAfter: .milliseconds(3000)),
            .watch(pid: 43, startTime: "9", term: false, killAfter: .seconds(31)),
            .forget(pid: 42), .disarm,
        ]
        for m in messages {
            #expect(GuardMessage(line: m.line.dropLast()) == m, "\(m.line)")
        }
        #expect(GuardMessage(line: "WATCH 1 5 term 10") == nil, "pid 1 is never watched")
        #expect(GuardMessage(line: "WATCH 7 5 maybe 10") == nil)
        #expect(GuardMessage(line: "WATCH 7 5 term -1") == nil)
        #expect(GuardMessage(line: "DISARM now") == nil)
    }

    @Test func parserRefusesMalformedFields() {
        #expect(GuardMessage(line: "WATCH  42   7 kill 5") == .watch(pid: 42, startTime: "7", term: false, killAfter: .milliseconds(5)),
                "runs of spaces separate fields, as the master's split")
        #expect(GuardMessage(line: "WATCH 42 7 kill 5 extra") == nil)
        #expect(GuardMessage(line: "WATCH x 7 kill 5") == nil)
        #expect(GuardMessage(line: "WATCH 4294967296 7 kill 5") == nil, "beyond Int32")
        #expect(GuardMessage(line: "WATCH 42 7 kill 99999999999999999999") == nil)
        #expect(GuardMessage(line: "WATCH 42 \(String(repeating: "9", count: 33)) kill 5") == nil, "start time longer than /proc's")
        #expect(GuardMessage(line: "FORGET") == nil)
        #expect(GuardMessage(line: "FORGET 5 6") == nil)
        #expect(GuardMessage(line: "") == nil)
        #expect(GuardMessage(line: "watch 42 7 kill 5") == nil)
    }

    /// The guard's watched set (CSentinelGuard), fed the lines the master writes.
    @Test func onlyAgentsAreTerminatedAtOnceAndForgottenOnesNotAtAll() {
        var state = sentinel_guard_state()
        defer { sentinel_guard_state_free(&state) }
        func apply(_ message: GuardMessage) {
            var m = sentinel_guard_message()
            let line = Array(message.line.utf8.dropLast())
            let kind = line.withUnsafeBufferPointer { b in b.withMemoryRebound(to: CChar.self) { sentinel_guard_parse($0.baseAddress, $0.count, &m) } }
            #expect(kind != SENTINEL_GUARD_INVALID)
            #expect(sentinel_guard_apply(&state, &m))
        }
        func termAtOnce() -> [Int32] {
            var pids = [Int32](repeating: 0, count: 64)
            let n = sentinel_guard_term_at_once(&state, &pids, pids.count)
            return Array(pids.prefix(n))
        }
        apply(.watch(pid: 12, startTime: "1", term: true, killAfter: .seconds(5)))
        apply(.watch(pid: 10, startTime: "1", term: true, killAfter: .seconds(5)))
        apply(.watch(pid: 11, startTime: "1", term: false, killAfter: .seconds(31)))
        apply(.forget(pid: 12))
        #expect(termAtOnce() == [10])
        #expect(state.count == 2)
        // Watching a pid again replaces its entry.
        apply(.watch(pid: 11, startTime: "2", term: true, killAfter: .seconds(1)))
        #expect(state.count == 2 && termAtOnce() == [10, 11])
        // Many children: the set grows.
        for pid in Int32(100)..<Int32(200) { apply(.watch(pid: pid, startTime: "1", term: false, killAfter: .zero)) }
        #expect(state.count == 102)
        #expect(!state.disarmed)
        apply(.disarm)
        #expect(state.disarmed)
    }
}

/// systemd watchdog decisions, without processes or clocks.
struct WatchdogStateTests {
    @Test func petsWhileEveryWorkerAnswersAndWithholdsForOneThatDoesNot() {
        var w = WatchdogState(period: .milliseconds(200))
        var t = w.tick(now: .milliseconds(200), workers: [10, 11])
        #expect(t.pet && t.ping == [10, 11] && !t.changed)
        w.pong(pid: 10, seq: t.seq)
        w.pong(pid: 11, seq: t.seq)
        t = w.tick(now: .milliseconds(400), workers: [10, 11])
        #expect(t.pet && t.ping == [10, 11])
        w.pong(pid: 10, seq: t.seq)  // 11 is wedged
        t = w.tick(now: .milliseconds(600), workers: [10, 11])
        #expect(!t.pet && t.changed && t.wedged == [11] && t.ping == [10], "no second ping while one is outstanding")
        t = w.tick(now: .milliseconds(800), workers: [10, 11])
        #expect(!t.pet && !t.changed)
        w.pong(pid: 11, seq: 2)
        w.pong(pid: 10, seq: 3)
        t = w.tick(now: .milliseconds(1000), workers: [10, 11])
        #expect(t.pet && t.changed)
    }

    @Test func replacedOrExitedWorkersAndStoppingDoNotBlockPets() {
        var w = WatchdogState(period: .milliseconds(200))
        _ = w.tick(now: .zero, workers: [10])
        w.exited(pid: 10)
        #expect(w.tick(now: .milliseconds(200), workers: [20]).pet)
        // 20 never answers, but it is no longer a live worker (a reload replaced it).
        #expect(w.tick(now: .milliseconds(400), workers: [30]).pet)
        _ = w.tick(now: .milliseconds(600), workers: [30])
        #expect(w.tick(now: .milliseconds(800), workers: [30], checkWorkers: false).pet, "while stopping only the loop counts")
    }
}
