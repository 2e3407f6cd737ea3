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
