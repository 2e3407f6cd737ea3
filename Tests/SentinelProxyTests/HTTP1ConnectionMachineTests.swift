import Testing

@testable import SentinelProxy

/// The HTTP/1 connection's rules without sockets: inputs in, actions out, a manual clock.
@Suite struct HTTP1ConnectionMachineTests {
    final class FakeExchange: HTTP1ConnectionExchange {
        var requestIsComplete = false
        var wantsRequestBytes = true
        var upstreamWritable = true
    }

    typealias Machine = HTTP1ConnectionMachine<FakeExchange, String>

    static let second: UInt64 = 1_000_000_000

    /// Request timeout 10 s, keep-alive 5 s, grace 250 ms; a minimum body rate of 1 byte per
    /// 100 ms after a 1 s grace when `bodyRate`.
    func machine(bodyRate: Bool = false, maxRequests: Int? = nil) -> Machine {
        var timing = Machine.Timing()
        timing.requestTimeoutNanos = 10 * Self.second
        timing.keepaliveNanos = 5 * Self.second
        timing.quiesceGraceNanos = Self.second / 4
        if bodyRate {
            timing.bodyNanosPerByte = Self.second / 10
            timing.bodyGraceNanos = Self.second
        }
        timing.maxRequests = maxRequests
        timing.maxBufferedHead = 100
        timing.maxBufferedForwarding = 1000
        return Machine(timing: timing)
    }

    func isStep(_ a: Machine.Actions, _ expected: String) -> Bool {
        switch a.step {
        case .none: return expected == "none"
        case .nextRequest: return expected == "nextRequest"
        case .close: return expected == "close"
        case .closeAfterWrites: return expected == "closeAfterWrites"
        case .headTimedOut: return expected == "headTimedOut"
        case .bodyTimedOut(let reply): return expected == "bodyTimedOut:\(reply)"
        case .exchangeTimer: return expected == "exchangeTimer"
        }
    }

    /// A connection with one request answered and kept alive at `t` (idle from then on).
    func idle(_ m: inout Machine, at t: UInt64) {
        _ = m.opened(now: 0)
        let r1 = m.headParsed(keepAliveRequested: true)
        #expect(r1)
        let e = FakeExchange()
        m.proxy(e)
        _ = m.requestFinished(keepAlive: true, now: t)
    }

    // MARK: - Head and idle deadlines

    @Test func theFirstHeadMustArriveWithinTheRequestTimeoutOfTheConnectionsStart() {
        var m = machine()
        let a = m.opened(now: 0)
        #expect(a.armTimer == 10 * Self.second)
        // Bytes trickling in do not move a head deadline (it is a total, not per read).
        let r2 = m.bytesArrived(now: 3 * Self.second)
        #expect(r2.firstByte == false)
        let r3 = m.bytesArrived(now: 9 * Self.second)
        #expect(r3.actions.armTimer == nil)
        let r4 = m.timerFired(now: 10 * Self.second, buffered: true)
        #expect(isStep(r4, "headTimedOut"))
        #expect(m.isClosed)
    }

    @Test func anIdleKeepAliveConnectionClosesAtTheKeepAliveTimeout() {
        var m = machine()
        idle(&m, at: 2 * Self.second)
        #expect(m.phase.headWait == .idle(until: 7 * Self.second))
        // The timer armed for the first head (t = 10 s) fires too late: re-armed earlier.
        #expect(m.timerAt == 7 * Self.second)
        let a = m.timerFired(now: 7 * Self.second, buffered: false)
        #expect(isStep(a, "close"))
        #expect(m.isClosed)
    }

    @Test func theNextRequestsFirstByteStartsItsHeadDeadline() {
        var m = machine()
        idle(&m, at: 2 * Self.second)
        let (first, a) = m.bytesArrived(now: 4 * Self.second)
        #expect(first)
        #expect(m.phase.headWait == .receiving(by: 14 * Self.second))
        // The keep-alive deadline (7 s) is armed and earlier: no new timer.
        #expect(a.armTimer == nil)
        // It fires early, re-checks and re-arms for the head deadline.
        let early = m.timerFired(now: 7 * Self.second, buffered: true)
        #expect(isStep(early, "none") && early.armTimer == 14 * Self.second)
        let r5 = m.timerFired(now: 14 * Self.second, buffered: true)
        #expect(isStep(r5, "headTimedOut"))
    }

    @Test func aPipelinedPartialHeadLeftWhenTheIdlePeriodEndsIsAnsweredWith408() {
        var m = machine()
        idle(&m, at: 0)
        // Bytes of a next head were already buffered when the exchange ended; none arrive after.
        let r6 = m.timerFired(now: 5 * Self.second, buffered: true)
        #expect(isStep(r6, "headTimedOut"))
    }

    @Test func anEarlyFiringRearmsForTheDeadlineInForce() {
        var m = machine()
        _ = m.opened(now: 0)
        let a = m.timerFired(now: Self.second, buffered: false)
        #expect(isStep(a, "none") && a.armTimer == 10 * Self.second)
        #expect(m.isAwaitingHead)
    }

    @Test func theRequestLimitAndTheClientDecideKeepAlive() {
        var m = machine(maxRequests: 2)
        _ = m.opened(now: 0)
        let r7 = m.headParsed(keepAliveRequested: true)
        #expect(r7)
        let r8 = m.headParsed(keepAliveRequested: true)
        #expect(!r8)  // the second of at most 2
        var n = machine()
        _ = n.opened(now: 0)
        let r9 = n.headParsed(keepAliveRequested: false)
        #expect(!r9)
        #expect(n.requestCount == 1)
    }

    // MARK: - Local answers and their bodies

    @Test func aLocalAnswerWithItsBodyCompleteHasNoBodyDeadline() {
        var m = machine(bodyRate: true)
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        let a = m.discardBody("reply", bodyComplete: true, now: Self.second)
        #expect(a.armTimer == nil)
        let r10 = m.timerFired(now: 100 * Self.second, buffered: false)
        #expect(isStep(r10, "none"))
    }

    @Test func aSlowDiscardedBodyIsAnswered408AtTheMinimumRate() {
        var m = machine(bodyRate: true)
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        // Nothing received: due after the grace (1 s), earlier than the whole-body deadline.
        let a = m.discardBody("r1", bodyComplete: false, now: 2 * Self.second)
        #expect(m.phase.bodyClock == .init(start: 2 * Self.second, whole: 12 * Self.second, due: 3 * Self.second))
        #expect(a.armTimer == 3 * Self.second)  // earlier than the head deadline's timer (10 s)
        #expect(m.timerAt == 3 * Self.second)
        // 20 bytes buy 2 s more: due at 2 + 1 + 2 = 5 s.
        _ = m.bodyProgress("r2", received: 20)
        #expect(m.phase.bodyClock?.due == 5 * Self.second)
        let early = m.timerFired(now: 3 * Self.second, buffered: false)
        #expect(isStep(early, "none") && early.armTimer == 5 * Self.second)
        // The reply handed back is the latest one (its trace id answers the 408).
        let r11 = m.timerFired(now: 5 * Self.second, buffered: false)
        #expect(isStep(r11, "bodyTimedOut:r2"))
        #expect(m.isClosed)
    }

    @Test func aDiscardedBodyMustArriveWithinTheRequestTimeoutEvenAtAGoodRate() {
        var m = machine(bodyRate: true)
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        _ = m.discardBody("r", bodyComplete: false, now: 0)
        _ = m.bodyProgress("r", received: 1_000_000)
        #expect(m.phase.bodyClock?.due == 10 * Self.second)
        let r12 = m.timerFired(now: 10 * Self.second, buffered: false)
        #expect(isStep(r12, "bodyTimedOut:r"))
    }

    @Test func withoutAMinimumRateOnlyTheWholeBodyDeadlineCounts() {
        var m = machine()
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        _ = m.discardBody("r", bodyComplete: false, now: Self.second)
        #expect(m.phase.bodyClock?.due == 11 * Self.second)
        let r13 = m.bodyProgress("r", received: 5)
        #expect(r13.armTimer == nil)
        let r14 = m.timerFired(now: 10 * Self.second, buffered: false)
        #expect(isStep(r14, "none"))
        let r15 = m.timerFired(now: 11 * Self.second, buffered: false)
        #expect(isStep(r15, "bodyTimedOut:r"))
    }

    @Test func aLocalAnswerKeepsTheConnectionOrClosesItAfterTheWrite() {
        var m = machine()
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        _ = m.discardBody("r", bodyComplete: true, now: 0)
        let r16 = m.requestFinished(keepAlive: true, now: Self.second)
        #expect(isStep(r16, "nextRequest"))
        #expect(m.phase.headWait == .idle(until: 6 * Self.second))
        _ = m.headParsed(keepAliveRequested: true)
        _ = m.discardBody("r", bodyComplete: true, now: 0)
        let r17 = m.requestFinished(keepAlive: false, now: Self.second)
        #expect(isStep(r17, "closeAfterWrites"))
        #expect(m.isClosed)
    }

    @Test func anInstanceAnswerReadsNothingAndHasNoDeadline() {
        var m = machine()
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        m.awaitInstance()
        let r18 = m.readRequested(buffered: 0)
        #expect(!r18)
        let r19 = m.timerFired(now: 100 * Self.second, buffered: false)
        #expect(isStep(r19, "none"))
        let r20 = m.requestFinished(keepAlive: true, now: 100 * Self.second)
        #expect(isStep(r20, "nextRequest"))
        let r21 = m.resumeReading(buffered: 0)
        #expect(r21)
    }

    // MARK: - The exchange's deadline

    @Test func theExchangeDeadlineIsServedByTheConnectionTimer() {
        var m = machine()
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        let e = FakeExchange()
        m.proxy(e)
        // The head deadline's timer (10 s) is later: re-armed for the exchange.
        let r22 = m.setExchangeDeadline(3 * Self.second, of: e)
        #expect(r22.armTimer == 3 * Self.second)
        // Moving it later arms nothing; the early firing re-arms.
        let r23 = m.setExchangeDeadline(4 * Self.second, of: e)
        #expect(r23.armTimer == nil)
        let early = m.timerFired(now: 3 * Self.second, buffered: false)
        #expect(isStep(early, "none") && early.armTimer == 4 * Self.second)
        let due = m.timerFired(now: 4 * Self.second, buffered: false)
        guard case .exchangeTimer(let fired) = due.step else {
            Issue.record("expected the exchange's timer")
            return
        }
        #expect(fired === e)
        // Fired once: the exchange re-arms if it still needs a deadline.
        let r24 = m.timerFired(now: 5 * Self.second, buffered: false)
        #expect(isStep(r24, "none"))
    }

    @Test func anOldExchangeCannotTouchTheNextOnesDeadline() {
        var m = machine()
        _ = m.opened(now: 0)
        let old = FakeExchange()
        m.proxy(old)
        _ = m.requestFinished(keepAlive: true, now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        let next = FakeExchange()
        m.proxy(next)
        _ = m.setExchangeDeadline(3 * Self.second, of: next)
        _ = m.setExchangeDeadline(0, of: old)
        #expect(m.phase.exchangeDeadline == 3 * Self.second)
        _ = m.setExchangeDeadline(0, of: next)
        #expect(m.phase.exchangeDeadline == 0)
    }

    @Test func aTunnelKeepsTheExchangesDeadline() {
        var m = machine()
        _ = m.opened(now: 0)
        let e = FakeExchange()
        m.proxy(e)
        _ = m.setExchangeDeadline(3 * Self.second, of: e)
        m.tunnel(e)
        #expect(m.isTunneling && m.phase.exchangeDeadline == 3 * Self.second)
        guard case .exchangeTimer = m.timerFired(now: 3 * Self.second, buffered: false).step else {
            Issue.record("expected the exchange's timer")
            return
        }
    }

    // MARK: - Quiesce (graceful drain)

    @Test func quiesceWhileIdleClosesAfterTheGrace() {
        var m = machine()
        idle(&m, at: 0)
        let a = m.quiesce(now: Self.second, buffered: false)
        #expect(a.armTimer == Self.second + Self.second / 4)
        let r25 = m.timerFired(now: Self.second + Self.second / 4, buffered: false)
        #expect(isStep(r25, "close"))
    }

    @Test func aRequestArrivingInTheGraceIsAnsweredThenTheConnectionCloses() {
        var m = machine()
        idle(&m, at: 0)
        _ = m.quiesce(now: Self.second, buffered: false)
        let r26 = m.bytesArrived(now: Self.second + 1)
        #expect(r26.firstByte)
        // The head now has the whole request timeout; the grace's firing only re-arms.
        let r27 = m.timerFired(now: Self.second + Self.second / 4, buffered: true)
        #expect(isStep(r27, "none"))
        let r28 = m.headParsed(keepAliveRequested: true)
        #expect(!r28)  // answered with Connection: close
        m.proxy(FakeExchange())
        // Even an answer that would keep the connection closes it.
        let r29 = m.requestFinished(keepAlive: true, now: 2 * Self.second)
        #expect(isStep(r29, "closeAfterWrites"))
    }

    @Test func quiesceOnAFreshConnectionClosesItAfterTheGrace() {
        var m = machine()
        _ = m.opened(now: 0)
        _ = m.quiesce(now: Self.second, buffered: false)
        let r30 = m.timerFired(now: Self.second + Self.second / 4, buffered: false)
        #expect(isStep(r30, "close"))
    }

    @Test func quiesceMidRequestFinishesTheExchangeThenCloses() {
        var m = machine()
        _ = m.opened(now: 0)
        let r31 = m.headParsed(keepAliveRequested: true)
        #expect(r31)
        let e = FakeExchange()
        m.proxy(e)
        let a = m.quiesce(now: Self.second, buffered: false)
        #expect(a.armTimer == nil && isStep(a, "none"))
        #expect(m.quiescing)
        #expect(m.exchange === e)
        let r32 = m.requestFinished(keepAlive: true, now: 2 * Self.second)
        #expect(isStep(r32, "closeAfterWrites"))
        #expect(m.isClosed)
    }

    @Test func quiesceMidBodyDiscardAnswersThenCloses() {
        var m = machine()
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        _ = m.discardBody("r", bodyComplete: false, now: 0)
        let r33 = m.quiesce(now: Self.second, buffered: false)
        #expect(isStep(r33, "none"))
        let r34 = m.requestFinished(keepAlive: true, now: 2 * Self.second)
        #expect(isStep(r34, "closeAfterWrites"))
    }

    @Test func quiesceMidTunnelLeavesTheTunnelRunning() {
        var m = machine()
        _ = m.opened(now: 0)
        let e = FakeExchange()
        m.proxy(e)
        m.tunnel(e)
        let a = m.quiesce(now: Self.second, buffered: false)
        #expect(a.armTimer == nil && isStep(a, "none"))
        #expect(m.isTunneling)
        let r35 = m.readRequested(buffered: 10)
        #expect(r35)
    }

    @Test func quiesceWithPipelinedBytesWaitingKeepsTheHeadDeadlineAndAnswersWithClose() {
        var m = machine()
        idle(&m, at: 0)
        let r36 = m.bytesArrived(now: Self.second)
        #expect(r36.firstByte)
        // Part of the next head is buffered: no grace (closing would fail that request).
        let a = m.quiesce(now: 2 * Self.second, buffered: true)
        #expect(a.armTimer == nil)
        #expect(m.phase.headWait == .receiving(by: 11 * Self.second))
        let r37 = m.headParsed(keepAliveRequested: true)
        #expect(!r37)
    }

    @Test func quiesceWithAPartialHeadThatNeverCompletesAnswers408AtTheHeadDeadline() {
        var m = machine()
        _ = m.opened(now: 0)
        _ = m.quiesce(now: Self.second, buffered: true)
        let r38 = m.timerFired(now: 10 * Self.second, buffered: true)
        #expect(isStep(r38, "headTimedOut"))
    }

    // MARK: - Reading

    @Test func readsAreHeldWhileThePhaseCannotAbsorbBytes() {
        var m = machine()
        _ = m.opened(now: 0)
        let r39 = m.readRequested(buffered: 100)
        #expect(r39)
        let r40 = m.readRequested(buffered: 101)
        #expect(!r40)  // a head this large is already refused
        #expect(m.pendingRead)
        let r41 = m.resumeReading(buffered: 101)
        #expect(!r41)
        let r42 = m.resumeReading(buffered: 0)
        #expect(r42)
        let r43 = m.resumeReading(buffered: 0)
        #expect(!r43)  // issued once

        let e = FakeExchange()
        m.proxy(e)
        e.wantsRequestBytes = false
        let r44 = m.readRequested(buffered: 0)
        #expect(!r44)  // the upstream cannot take the body now
        e.wantsRequestBytes = true
        let r45 = m.resumeReading(buffered: 10)
        #expect(r45)
        e.requestIsComplete = true
        e.wantsRequestBytes = false
        let r46 = m.readRequested(buffered: 999)
        #expect(r46)  // pipelined bytes, bounded
        let r47 = m.readRequested(buffered: 1000)
        #expect(!r47)

        m.tunnel(e)
        e.upstreamWritable = false
        let r48 = m.readRequested(buffered: 0)
        #expect(!r48)
        e.upstreamWritable = true
        let r49 = m.resumeReading(buffered: 0)
        #expect(r49)

        m.closed()
        m.timerCancelled()
        let r50 = m.readRequested(buffered: 0)
        #expect(!r50)
        #expect(m.timerAt == 0)
    }
}

extension HTTP1ConnectionMachine.Phase {
    var headWait: HTTP1ConnectionMachine.HeadWait? {
        if case .awaitingHead(let w) = self { return w }
        return nil
    }

    var bodyClock: HTTP1ConnectionMachine.BodyClock? {
        if case .discardingBody(_, let c) = self { return c }
        return nil
    }

    var exchangeDeadline: UInt64? {
        switch self {
        case .proxying(_, let d), .tunneling(_, let d): return d
        default: return nil
        }
    }
}
