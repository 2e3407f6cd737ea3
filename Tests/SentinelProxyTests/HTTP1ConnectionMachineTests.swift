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
        case .filterTimedOut: return expected == "filterTimedOut"
        }
    }

    /// A connection with one request answered and kept alive at `t` (idle from then on).
    func idle(_ m: inout Machine, at t: UInt64) {
        _ = m.opened(now: 0)
        let keepAlive = m.headParsed(keepAliveRequested: true)
        #expect(keepAlive)
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
        let arrived = m.bytesArrived(now: 3 * Self.second)
        #expect(arrived.firstByte == false)
        let arrived2 = m.bytesArrived(now: 9 * Self.second)
        #expect(arrived2.actions.armTimer == nil)
        let fired = m.timerFired(now: 10 * Self.second, buffered: true)
        #expect(isStep(fired, "headTimedOut"))
        #expect(m.isClosed)
    }

    @Test func aFilterWaitReadsNothingAndEndsAtTheRequestsTimeout() {
        var m = machine()
        _ = m.opened(now: 0)
        _ = m.bytesArrived(now: 1 * Self.second)
        let keepAlive = m.headParsed(keepAliveRequested: true)
        #expect(keepAlive)
        // The wait keeps the head's deadline (10 s from the connection's start).
        _ = m.awaitFilter(now: 2 * Self.second)
        #expect(m.isAwaitingFilter)
        #expect(!m.canAbsorbInput(buffered: 0))
        let read = m.readRequested(buffered: 0)
        #expect(!read)
        #expect(isStep(m.timerFired(now: 5 * Self.second, buffered: true), "none"))
        #expect(m.isAwaitingFilter)
        let fired = m.timerFired(now: 10 * Self.second, buffered: true)
        #expect(isStep(fired, "filterTimedOut"))
        #expect(m.isClosed)
    }

    @Test func aFilterVerdictBeforeTheTimeoutHandsTheRequestOn() {
        var m = machine()
        idle(&m, at: 0)
        _ = m.bytesArrived(now: 1 * Self.second)
        _ = m.headParsed(keepAliveRequested: true)
        _ = m.awaitFilter(now: 1 * Self.second)
        let read = m.readRequested(buffered: 0)
        #expect(!read)
        let e = FakeExchange()
        m.proxy(e)
        // The read held during the wait is issued once the exchange can take bytes.
        let resumed = m.resumeReading(buffered: 0)
        #expect(resumed)
        #expect(isStep(m.timerFired(now: 11 * Self.second, buffered: false), "none"))
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
        let fired = m.timerFired(now: 14 * Self.second, buffered: true)
        #expect(isStep(fired, "headTimedOut"))
    }

    @Test func aPipelinedPartialHeadLeftWhenTheIdlePeriodEndsIsAnsweredWith408() {
        var m = machine()
        idle(&m, at: 0)
        // Bytes of a next head were already buffered when the exchange ended; none arrive after.
        let fired = m.timerFired(now: 5 * Self.second, buffered: true)
        #expect(isStep(fired, "headTimedOut"))
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
        let keepAlive = m.headParsed(keepAliveRequested: true)
        #expect(keepAlive)
        let keepAlive2 = m.headParsed(keepAliveRequested: true)
        #expect(!keepAlive2)  // the second of at most 2
        var n = machine()
        _ = n.opened(now: 0)
        let keepAlive3 = n.headParsed(keepAliveRequested: false)
        #expect(!keepAlive3)
        #expect(n.requestCount == 1)
    }

    // MARK: - Local answers and their bodies

    @Test func aLocalAnswerWithItsBodyCompleteHasNoBodyDeadline() {
        var m = machine(bodyRate: true)
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        let a = m.discardBody("reply", bodyComplete: true, now: Self.second)
        #expect(a.armTimer == nil)
        let fired = m.timerFired(now: 100 * Self.second, buffered: false)
        #expect(isStep(fired, "none"))
    }

    @Test func aSlowDiscardedBodyIsAnswered408AtTheMinimumRate() {
        var m = machine(bodyRate: true)
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        // Nothing received: due after the grace (1 s), earlier than the whole-body deadline.
        let a = m.discardBody("keepAlive", bodyComplete: false, now: 2 * Self.second)
        #expect(m.phase.bodyClock == .init(start: 2 * Self.second, whole: 12 * Self.second, due: 3 * Self.second))
        #expect(a.armTimer == 3 * Self.second)  // earlier than the head deadline's timer (10 s)
        #expect(m.timerAt == 3 * Self.second)
        // 20 bytes buy 2 s more: due at 2 + 1 + 2 = 5 s.
        _ = m.bodyProgress("arrived", received: 20)
        #expect(m.phase.bodyClock?.due == 5 * Self.second)
        let early = m.timerFired(now: 3 * Self.second, buffered: false)
        #expect(isStep(early, "none") && early.armTimer == 5 * Self.second)
        // The reply handed back is the latest one (its trace id answers the 408).
        let fired = m.timerFired(now: 5 * Self.second, buffered: false)
        #expect(isStep(fired, "bodyTimedOut:arrived"))
        #expect(m.isClosed)
    }

    @Test func aDiscardedBodyMustArriveWithinTheRequestTimeoutEvenAtAGoodRate() {
        var m = machine(bodyRate: true)
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        _ = m.discardBody("r", bodyComplete: false, now: 0)
        _ = m.bodyProgress("r", received: 1_000_000)
        #expect(m.phase.bodyClock?.due == 10 * Self.second)
        let fired = m.timerFired(now: 10 * Self.second, buffered: false)
        #expect(isStep(fired, "bodyTimedOut:r"))
    }

    @Test func withoutAMinimumRateOnlyTheWholeBodyDeadlineCounts() {
        var m = machine()
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        _ = m.discardBody("r", bodyComplete: false, now: Self.second)
        #expect(m.phase.bodyClock?.due == 11 * Self.second)
        let progress = m.bodyProgress("r", received: 5)
        #expect(progress.armTimer == nil)
        let fired = m.timerFired(now: 10 * Self.second, buffered: false)
        #expect(isStep(fired, "none"))
        let fired2 = m.timerFired(now: 11 * Self.second, buffered: false)
        #expect(isStep(fired2, "bodyTimedOut:r"))
    }

    @Test func aLocalAnswerKeepsTheConnectionOrClosesItAfterTheWrite() {
        var m = machine()
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        _ = m.discardBody("r", bodyComplete: true, now: 0)
        let ended = m.requestFinished(keepAlive: true, now: Self.second)
        #expect(isStep(ended, "nextRequest"))
        #expect(m.phase.headWait == .idle(until: 6 * Self.second))
        _ = m.headParsed(keepAliveRequested: true)
        _ = m.discardBody("r", bodyComplete: true, now: 0)
        let ended2 = m.requestFinished(keepAlive: false, now: Self.second)
        #expect(isStep(ended2, "closeAfterWrites"))
        #expect(m.isClosed)
    }

    @Test func anInstanceAnswerReadsNothingAndHasNoDeadline() {
        var m = machine()
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        m.awaitInstance()
        let reads = m.readRequested(buffered: 0)
        #expect(!reads)
        let fired = m.timerFired(now: 100 * Self.second, buffered: false)
        #expect(isStep(fired, "none"))
        let ended = m.requestFinished(keepAlive: true, now: 100 * Self.second)
        #expect(isStep(ended, "nextRequest"))
        let resumes = m.resumeReading(buffered: 0)
        #expect(resumes)
    }

    // MARK: - The exchange's deadline

    @Test func theExchangeDeadlineIsServedByTheConnectionTimer() {
        var m = machine()
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        let e = FakeExchange()
        m.proxy(e)
        // The head deadline's timer (10 s) is later: re-armed for the exchange.
        let armed = m.setExchangeDeadline(3 * Self.second, of: e)
        #expect(armed.armTimer == 3 * Self.second)
        // Moving it later arms nothing; the early firing re-arms.
        let armed2 = m.setExchangeDeadline(4 * Self.second, of: e)
        #expect(armed2.armTimer == nil)
        let early = m.timerFired(now: 3 * Self.second, buffered: false)
        #expect(isStep(early, "none") && early.armTimer == 4 * Self.second)
        let due = m.timerFired(now: 4 * Self.second, buffered: false)
        guard case .exchangeTimer(let fired) = due.step else {
            Issue.record("expected the exchange's timer")
            return
        }
        #expect(fired === e)
        // Fired once: the exchange re-arms if it still needs a deadline.
        let again = m.timerFired(now: 5 * Self.second, buffered: false)
        #expect(isStep(again, "none"))
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
        let fired = m.timerFired(now: Self.second + Self.second / 4, buffered: false)
        #expect(isStep(fired, "close"))
    }

    @Test func aRequestArrivingInTheGraceIsAnsweredThenTheConnectionCloses() {
        var m = machine()
        idle(&m, at: 0)
        _ = m.quiesce(now: Self.second, buffered: false)
        let arrived = m.bytesArrived(now: Self.second + 1)
        #expect(arrived.firstByte)
        // The head now has the whole request timeout; the grace's firing only re-arms.
        let fired = m.timerFired(now: Self.second + Self.second / 4, buffered: true)
        #expect(isStep(fired, "none"))
        let keepAlive = m.headParsed(keepAliveRequested: true)
        #expect(!keepAlive)  // answered with Connection: close
        m.proxy(FakeExchange())
        // Even an answer that would keep the connection closes it.
        let ended = m.requestFinished(keepAlive: true, now: 2 * Self.second)
        #expect(isStep(ended, "closeAfterWrites"))
    }

    @Test func quiesceOnAFreshConnectionClosesItAfterTheGrace() {
        var m = machine()
        _ = m.opened(now: 0)
        _ = m.quiesce(now: Self.second, buffered: false)
        let fired = m.timerFired(now: Self.second + Self.second / 4, buffered: false)
        #expect(isStep(fired, "close"))
    }

    @Test func quiesceMidRequestFinishesTheExchangeThenCloses() {
        var m = machine()
        _ = m.opened(now: 0)
        let keepAlive = m.headParsed(keepAliveRequested: true)
        #expect(keepAlive)
        let e = FakeExchange()
        m.proxy(e)
        let a = m.quiesce(now: Self.second, buffered: false)
        #expect(a.armTimer == nil && isStep(a, "none"))
        #expect(m.quiescing)
        #expect(m.exchange === e)
        let ended = m.requestFinished(keepAlive: true, now: 2 * Self.second)
        #expect(isStep(ended, "closeAfterWrites"))
        #expect(m.isClosed)
    }

    @Test func quiesceMidBodyDiscardAnswersThenCloses() {
        var m = machine()
        _ = m.opened(now: 0)
        _ = m.headParsed(keepAliveRequested: true)
        _ = m.discardBody("r", bodyComplete: false, now: 0)
        let drain = m.quiesce(now: Self.second, buffered: false)
        #expect(isStep(drain, "none"))
        let ended = m.requestFinished(keepAlive: true, now: 2 * Self.second)
        #expect(isStep(ended, "closeAfterWrites"))
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
        let reads = m.readRequested(buffered: 10)
        #expect(reads)
    }

    @Test func quiesceWithPipelinedBytesWaitingKeepsTheHeadDeadlineAndAnswersWithClose() {
        var m = machine()
        idle(&m, at: 0)
        let arrived = m.bytesArrived(now: Self.second)
        #expect(arrived.firstByte)
        // Part of the next head is buffered: no grace (closing would fail that request).
        let a = m.quiesce(now: 2 * Self.second, buffered: true)
        #expect(a.armTimer == nil)
        #expect(m.phase.headWait == .receiving(by: 11 * Self.second))
        let keepAlive = m.headParsed(keepAliveRequested: true)
        #expect(!keepAlive)
    }

    @Test func quiesceWithAPartialHeadThatNeverCompletesAnswers408AtTheHeadDeadline() {
        var m = machine()
        _ = m.opened(now: 0)
        _ = m.quiesce(now: Self.second, buffered: true)
        let fired = m.timerFired(now: 10 * Self.second, buffered: true)
        #expect(isStep(fired, "headTimedOut"))
    }

    // MARK: - Reading

    @Test func readsAreHeldWhileThePhaseCannotAbsorbBytes() {
        var m = machine()
        _ = m.opened(now: 0)
        let reads = m.readRequested(buffered: 100)
        #expect(reads)
        let reads2 = m.readRequested(buffered: 101)
        #expect(!reads2)  // a head this large is already refused
        #expect(m.pendingRead)
        let resumes = m.resumeReading(buffered: 101)
        #expect(!resumes)
        let resumes2 = m.resumeReading(buffered: 0)
        #expect(resumes2)
        let resumes3 = m.resumeReading(buffered: 0)
        #expect(!resumes3)  // issued once

        let e = FakeExchange()
        m.proxy(e)
        e.wantsRequestBytes = false
        let reads3 = m.readRequested(buffered: 0)
        #expect(!reads3)  // the upstream cannot take the body now
        e.wantsRequestBytes = true
        let resumes4 = m.resumeReading(buffered: 10)
        #expect(resumes4)
        e.requestIsComplete = true
        e.wantsRequestBytes = false
        let reads4 = m.readRequested(buffered: 999)
        #expect(reads4)  // pipelined bytes, bounded
        let reads5 = m.readRequested(buffered: 1000)
        #expect(!reads5)

        m.tunnel(e)
        e.upstreamWritable = false
        let reads6 = m.readRequested(buffered: 0)
        #expect(!reads6)
        e.upstreamWritable = true
        let resumes5 = m.resumeReading(buffered: 0)
        #expect(resumes5)

        m.closed()
        m.timerCancelled()
        let reads7 = m.readRequested(buffered: 0)
        #expect(!reads7)
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
