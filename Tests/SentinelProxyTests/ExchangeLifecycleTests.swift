import Testing

@testable import SentinelProxy

/// The exchange's life cycle and timeouts without sockets: every transition, and every timeout
/// with a manual clock.
@Suite struct ExchangeLifecycleTests {
    typealias L = ExchangeLifecycle
    static let second: UInt64 = 1_000_000_000

    /// A lifecycle connected to its first target (request complete when `bodyless`).
    func connected(bodyless: Bool = true, reused: Bool = false) -> L {
        var l = L(requestComplete: bodyless)
        l.picked()
        l.connected(reused: reused)
        return l
    }

    // MARK: - Transitions

    @Test func aPlainExchangeGoesThroughEveryStageInOrder() {
        var l = L(requestComplete: false)
        #expect(l.name == .picking)
        l.picked()
        #expect(l.name == .connecting)
        l.connected(reused: true)
        #expect(l.name == .sending && l.reused)
        l.requestCompleted()
        #expect(l.name == .awaitingHead && !l.haveResponseHead)
        l.responseHeadReceived()
        #expect(l.name == .awaitingHead && l.haveResponseHead && !l.responseStarted)
        l.responseStarted(complete: false)
        #expect(l.name == .streaming && l.responseStarted && !l.responseComplete)
        l.responseCompleted()
        #expect(l.responseComplete)
        let ended = l.finishComplete()
        #expect(ended == .exchanging(.init(owesReport: true, reused: true), .complete))
        #expect(l.name == .done && l.isDone && l.reused)  // the access log still sees the last attempt's reuse
        #expect(l.upstreamReusable && !l.closesClient)
    }

    @Test func anExchangeFinishesExactlyOnce() {
        var l = connected()
        let ended = l.finish()
        #expect(ended != nil)
        let ended2 = l.finish()
        #expect(ended2 == nil)
        let ended3 = l.finishComplete()
        #expect(ended3 == nil)
        // Nothing moves a finished exchange.
        l.picked()
        l.connected(reused: false)
        l.responseHeadReceived()
        l.retry()
        #expect(l.isDone)
    }

    @Test func aCompleteExchangeFinishesOnlyOnceItsResponseIsComplete() {
        var l = connected()
        let ended = l.finishComplete()
        #expect(ended == nil)
        l.responseHeadReceived()
        let ended2 = l.finishComplete()
        #expect(ended2 == nil)
        l.responseStarted(complete: false)
        let ended3 = l.finishComplete()
        #expect(ended3 == nil)
        l.responseCompleted()
        let ended4 = l.finishComplete()
        #expect(ended4 != nil)
        let ended5 = l.finishComplete()
        #expect(ended5 == nil)
    }

    @Test func aResponseWithoutABodyIsCompleteWithItsHead() {
        var l = connected()
        l.responseHeadReceived()
        l.responseStarted(complete: true)
        #expect(l.responseComplete && l.responseStarted)
    }

    @Test func anEarlyResponseBeforeTheWholeBodyClosesBothConnections() {
        var l = connected(bodyless: false)
        l.responseHeadReceived()
        l.responseStarted(complete: true)
        #expect(l.name == .streaming)
        let ended = l.finishComplete()
        #expect(ended != nil)
        #expect(!l.upstreamReusable && l.closesClient)
    }

    @Test func eachPickIsReportedOnce() {
        var l = L(requestComplete: true)
        let reported = l.takePickReport()
        #expect(!reported)  // nothing picked yet
        l.picked()
        let reported2 = l.takePickReport()
        #expect(reported2)
        let reported3 = l.takePickReport()
        #expect(!reported3)
        l.connected(reused: false)
        let reported4 = l.takePickReport()
        #expect(!reported4)  // the same pick
        l.retry()
        l.picked()
        l.connected(reused: false)
        let reported5 = l.takePickReport()
        #expect(reported5)  // a new pick owes a new report
        l.responseHeadReceived()
        l.responseStarted(complete: false)
        let reported6 = l.takePickReport()
        #expect(!reported6)
    }

    @Test func thePicksOutcomeIsReportedOnceEvenRightAfterTheEnd() {
        var l = connected()
        l.responseHeadReceived()
        l.responseStarted(complete: true)
        _ = l.finishComplete()
        let first = l.takePickReport()
        let second = l.takePickReport()
        #expect(first && !second)
        // An exchange that ended while picking (no healthy target) owes no report.
        var none = L(requestComplete: true)
        _ = none.finish()
        let owed = none.takePickReport()
        #expect(!owed && !none.reused)
    }

    @Test func aRetryGoesBackToPickingOnlyBeforeTheResponseStarted() {
        var l = connected()
        l.responseHeadReceived()  // e.g. a retryable 503
        l.retry()
        #expect(l.name == .picking && !l.haveResponseHead && !l.reused)
        l.picked()
        l.connected(reused: false)
        l.responseHeadReceived()
        l.responseStarted(complete: false)
        l.retry()
        #expect(l.name == .streaming)  // too late: the client has part of this response
    }

    @Test func aStalePooledConnectionIsReplacedOnceWithoutANewPick() {
        var l = connected(reused: true)
        let replayed = l.replayStale(requestBytesSent: 0)
        #expect(replayed)
        #expect(l.name == .connecting && !l.reused)
        l.connected(reused: true)
        let reported = l.takePickReport()
        #expect(reported)  // still the first pick's report
        let replayed2 = l.replayStale(requestBytesSent: 0)
        #expect(!replayed2)  // at most once per exchange
        #expect(l.staleReplayed)
    }

    @Test func noStaleReplayForAFreshConnectionSentBytesOrAResponse() {
        var fresh = connected(reused: false)
        let replayed = fresh.replayStale(requestBytesSent: 0)
        #expect(!replayed)
        var sent = connected(bodyless: false, reused: true)
        let replayed2 = sent.replayStale(requestBytesSent: 10)
        #expect(!replayed2)
        var answered = connected(reused: true)
        answered.responseHeadReceived()
        let replayed3 = answered.replayStale(requestBytesSent: 0)
        #expect(!replayed3)
    }

    @Test func aTunnelCompletesTheRequestAndCountsAsAStartedResponse() {
        var l = connected(bodyless: false)
        l.responseHeadReceived()
        l.becameTunnel()
        #expect(l.name == .tunnel && l.isTunnel && l.requestComplete && l.responseStarted && l.haveResponseHead)
        l.retry()
        #expect(l.isTunnel)
        let ended = l.finish()
        #expect(ended == .tunnel(.init(owesReport: true, reused: false)))
        #expect(L.responseStarted(.tunnel(.init())))
    }

    @Test func aFailureAfterTheHeadWasReceivedButBeforeItWasSentCanStillBeAnswered() {
        var l = connected()
        l.responseHeadReceived()  // e.g. an unexpected 101
        guard let ended = l.finish() else {
            Issue.record("not finished")
            return
        }
        #expect(!L.responseStarted(ended))
    }

    // MARK: - Timeouts (manual clock)

    static let limits = ExchangeClock.Limits(
        requestNanos: 30 * second, readNanos: 10 * second, writeNanos: 5 * second, clientStallNanos: 20 * second)

    static let rated = ExchangeClock.Limits(
        requestNanos: 30 * second, readNanos: 10 * second, writeNanos: 5 * second, clientStallNanos: 20 * second,
        bodyNanosPerByte: second / 10, bodyGraceNanos: second)

    func clock(connectedAt t: UInt64 = 0, bodyless: Bool = true, limits: ExchangeClock.Limits = limits) -> ExchangeClock {
        var c = ExchangeClock(start: 0)
        c.connected(now: t, requestComplete: bodyless, upstreamWritable: true, limits: limits)
        return c
    }

    let complete = ExchangeClock.Facts(requestComplete: true)

    @Test func theReadTimeoutCountsFromTheLastUpstreamActivity() {
        var c = clock()
        #expect(c.deadline(now: 0, complete, limits: Self.limits) == 10 * Self.second)
        let expiry = c.expired(now: 9 * Self.second, complete, limits: Self.limits)
        #expect(expiry == nil)
        c.lastUpstreamActivity = 8 * Self.second
        #expect(c.deadline(now: 9 * Self.second, complete, limits: Self.limits) == 18 * Self.second)
        let expiry2 = c.expired(now: 18 * Self.second, complete, limits: Self.limits)
        #expect(expiry2 == .responseTimeout)
    }

    @Test func theWholeExchangeIsBoundedByTheRequestTimeout() {
        var c = clock()
        c.lastUpstreamActivity = 25 * Self.second
        #expect(c.deadline(now: 25 * Self.second, complete, limits: Self.limits) == 30 * Self.second)
        let expiry = c.expired(now: 30 * Self.second, complete, limits: Self.limits)
        #expect(expiry == .requestTimeout)
    }

    @Test func theRequestTimeoutWhileTheUpstreamWaitsForTheBodyBlamesTheClient() {
        var c = clock(bodyless: false)
        c.lastUpstreamActivity = 25 * Self.second
        let waiting = ExchangeClock.Facts(requestComplete: false)
        let expiry = c.expired(now: 30 * Self.second, waiting, limits: Self.limits)
        #expect(expiry == .bodyTooSlow)
        var blocked = waiting
        blocked.upstreamWritable = false
        let expiry2 = c.expired(now: 30 * Self.second, blocked, limits: Self.limits)
        #expect(expiry2 == .requestTimeout)
    }

    @Test func aSlowBodyBelowTheMinimumRateIs408() {
        var c = clock(connectedAt: 2 * Self.second, bodyless: false, limits: Self.rated)
        var facts = ExchangeClock.Facts(requestComplete: false, bodyReceived: 0)
        // Nothing yet: due after the grace.
        #expect(c.deadline(now: 2 * Self.second, facts, limits: Self.rated) == 3 * Self.second)
        facts.bodyReceived = 20  // 2 s more
        #expect(c.deadline(now: 3 * Self.second, facts, limits: Self.rated) == 5 * Self.second)
        let expiry = c.expired(now: 4 * Self.second, facts, limits: Self.rated)
        #expect(expiry == nil)
        let expiry2 = c.expired(now: 5 * Self.second, facts, limits: Self.rated)
        #expect(expiry2 == .bodyTooSlow)
        // A complete body is no longer measured.
        facts.requestComplete = true
        #expect(c.bodyRateDeadline(facts, limits: Self.rated) == nil)
    }

    @Test func theBodyClockPausesWhileTheUpstreamAcceptsNoBytes() {
        // (0 means "not running" on this clock: the monotonic clock never reads 0.)
        var c = clock(connectedAt: Self.second, bodyless: false, limits: Self.rated)
        let facts = ExchangeClock.Facts(requestComplete: false)
        let paused = c.upstreamWritabilityChanged(false, requestComplete: false, now: Self.second + Self.second / 2)
        #expect(!paused)
        #expect(c.bodyRateDeadline(facts, limits: Self.rated) == nil)
        // Paused for 4 s: the deadline moves 4 s later, and the caller re-arms.
        let resumed = c.upstreamWritabilityChanged(true, requestComplete: false, now: 5 * Self.second + Self.second / 2)
        #expect(resumed)
        #expect(c.bodyRateDeadline(facts, limits: Self.rated) == 6 * Self.second)
        // A new attempt restarts the clock with its connection.
        c.attemptEnded()
        #expect(c.bodyRateDeadline(facts, limits: Self.rated) == nil)
    }

    @Test func withoutAMinimumRateTheBodyClockNeverRuns() {
        var c = clock(bodyless: false)
        #expect(c.bodyClockStart == 0)
        let changed = c.upstreamWritabilityChanged(true, requestComplete: false, now: Self.second)
        #expect(!changed)
    }

    @Test func aStalledClientIsCheckedEverySecondAndCutAtTheListenersRequestTimeout() {
        var c = clock()
        var facts = complete
        facts.clientWritable = false
        #expect(c.deadline(now: 2 * Self.second, facts, limits: Self.limits) == 3 * Self.second)
        // Silence does not count while the client is not reading.
        let expiry = c.expired(now: 12 * Self.second, facts, limits: Self.limits)
        #expect(expiry == nil)
        #expect(c.clientBlockedSince == 12 * Self.second && c.lastUpstreamActivity == 12 * Self.second)
        let expiry2 = c.expired(now: 31 * Self.second, facts, limits: Self.limits)
        #expect(expiry2 == .requestTimeout)
        var tunnel = facts
        tunnel.tunnel = true
        var t = clock()
        let expiry3 = t.expired(now: 5 * Self.second, tunnel, limits: Self.limits)
        #expect(expiry3 == nil)
        let expiry4 = t.expired(now: 25 * Self.second, tunnel, limits: Self.limits)
        #expect(expiry4 == .clientStalled)
        // Reading again resets the stall.
        var r = clock()
        _ = r.expired(now: 5 * Self.second, tunnel, limits: Self.limits)
        tunnel.clientWritable = true
        _ = r.expired(now: 6 * Self.second, tunnel, limits: Self.limits)
        #expect(r.clientBlockedSince == 0)
    }

    @Test func anUpstreamThatStopsAcceptingTheBodyHitsTheWriteTimeout() {
        var c = clock(bodyless: false)
        var facts = ExchangeClock.Facts(requestComplete: false)
        facts.upstreamWritable = false
        #expect(c.deadline(now: 0, facts, limits: Self.limits) == Self.second)
        let expiry = c.expired(now: Self.second, facts, limits: Self.limits)
        #expect(expiry == nil)
        c.lastUpstreamActivity = 5 * Self.second
        let expiry2 = c.expired(now: 6 * Self.second, facts, limits: Self.limits)
        #expect(expiry2 == .writeTimeout)
        facts.upstreamWritable = true
        var d = clock(bodyless: false)
        _ = d.expired(now: Self.second, facts, limits: Self.limits)
        #expect(d.upstreamBlockedSince == 0)
    }

    @Test func aTunnelHasNoWholeExchangeDeadlineAndEndsWhenIdle() {
        var c = clock()
        let tunnel = ExchangeClock.Facts(tunnel: true, requestComplete: true)
        c.lastUpstreamActivity = 50 * Self.second
        #expect(c.deadline(now: 50 * Self.second, tunnel, limits: Self.limits) == 60 * Self.second)
        let expiry = c.expired(now: 59 * Self.second, tunnel, limits: Self.limits)
        #expect(expiry == nil)
        let expiry2 = c.expired(now: 60 * Self.second, tunnel, limits: Self.limits)
        #expect(expiry2 == .tunnelIdle)
    }

    @Test func aBlockedUpstreamWithoutAConnectionIsNoStall() {
        let c = clock()
        var facts = complete
        facts.connected = false
        facts.upstreamWritable = false
        #expect(c.deadline(now: 0, facts, limits: Self.limits) == 10 * Self.second)
    }
}
