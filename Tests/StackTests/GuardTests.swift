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

    @Test func onlyAgentsAreTerminatedAtOnceAndForgottenOnesNotAtAll() {
        var state = GuardState()
        state.apply(.watch(pid: 10, startTime: "1", term: true, killAfter: .seconds(5)))
        state.apply(.watch(pid: 11, startTime: "1", term: false, killAfter: .seconds(31)))
        state.apply(.watch(pid: 12, startTime: "1", term: true, killAfter: .seconds(5)))
        state.apply(.forget(pid: 12))
        #expect(state.termAtOnce == [10])
        #expect(state.watched.keys.sorted() == [10, 11])
        #expect(!state.disarmed)
        state.apply(.disarm)
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
