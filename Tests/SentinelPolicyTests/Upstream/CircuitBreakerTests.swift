import Testing

@testable import SentinelPolicy

@Suite struct CircuitBreakerTests {
    private typealias T = CircuitBreaker.Transition

    private func breaker(
        failures: Int = 3, successes: Int = 2, timeout: Duration = .seconds(30), halfOpen: Int = 1
    ) -> CircuitBreaker {
        CircuitBreaker(
            configuration: .init(
                failureThreshold: failures, successThreshold: successes, timeout: timeout, halfOpenMaxRequests: halfOpen
            ))
    }

    /// Trips a breaker at `now` and returns it.
    private func opened(
        _ b: CircuitBreaker = CircuitBreaker(configuration: .init(failureThreshold: 1)), at now: Duration = .zero
    )
        -> CircuitBreaker
    {
        var b = b
        while b.state != .open {
            _ = b.allow(now: now)
            _ = b.recordFailure(now: now)
        }
        return b
    }

    @Test func defaultsMatchTheOriginalCode() {
        let c = CircuitBreaker.Configuration()
        #expect(
            c.failureThreshold == 5 && c.successThreshold == 2 && c.timeout == .seconds(30)
                && c.halfOpenMaxRequests == 1)
    }

    @Test func closedOpensAfterConsecutiveFailures() {
        var b = breaker()
        #expect(b.recordFailure(now: .zero) == nil)
        #expect(b.recordFailure(now: .zero) == nil)
        #expect(b.recordFailure(now: .seconds(1)) == T(from: .closed, to: .open))
        #expect(b.state == .open && b.trips == 1)
        #expect(!b.wouldAllow(now: .seconds(2)))
        #expect(b.allow(now: .seconds(2)) == .init(allowed: false, transition: nil))
    }

    @Test func aSuccessResetsTheFailureCount() {
        var b = breaker()
        _ = b.recordFailure(now: .zero)
        _ = b.recordFailure(now: .zero)
        #expect(b.recordSuccess() == nil)
        #expect(b.recordFailure(now: .zero) == nil)
        #expect(b.recordFailure(now: .zero) == nil)
        #expect(b.state == .closed)
    }

    @Test func openBecomesHalfOpenLazilyAfterTheTimeout() {
        var b = opened(breaker(failures: 1), at: .seconds(10))
        #expect(!b.wouldAllow(now: .seconds(39)))
        #expect(b.allow(now: .seconds(39)).allowed == false)
        #expect(b.state == .open)  // nothing changes without an allow after the timeout
        #expect(b.wouldAllow(now: .seconds(40)))
        #expect(b.state == .open)
        #expect(b.allow(now: .seconds(40)) == .init(allowed: true, transition: T(from: .open, to: .halfOpen)))
        #expect(b.state == .halfOpen)
    }

    @Test func halfOpenAdmitsOnlyTheConfiguredTrials() {
        var b = opened(breaker(failures: 1, halfOpen: 2))
        #expect(b.allow(now: .seconds(30)).allowed)
        #expect(b.allow(now: .seconds(30)) == .init(allowed: true, transition: nil))
        #expect(!b.wouldAllow(now: .seconds(30)))
        #expect(b.allow(now: .seconds(30)).allowed == false)
        b.cancel()  // a trial never sent frees its slot
        #expect(b.allow(now: .seconds(30)).allowed)
    }

    @Test func halfOpenClosesAfterEnoughSuccesses() {
        var b = opened(breaker(failures: 1, successes: 2))
        _ = b.allow(now: .seconds(30))
        #expect(b.recordSuccess() == nil)
        #expect(b.state == .halfOpen)
        #expect(b.allow(now: .seconds(31)).allowed)  // the finished trial freed its slot
        #expect(b.recordSuccess() == T(from: .halfOpen, to: .closed))
        #expect(b.state == .closed && b.wouldAllow(now: .seconds(31)))
    }

    @Test func halfOpenFailureReopensAndRestartsTheTimeout() {
        var b = opened(breaker(failures: 1))
        _ = b.allow(now: .seconds(30))
        #expect(b.recordFailure(now: .seconds(31)) == T(from: .halfOpen, to: .open))
        #expect(b.trips == 2)
        #expect(!b.wouldAllow(now: .seconds(60)))
        #expect(b.allow(now: .seconds(61)).transition == T(from: .open, to: .halfOpen))
    }

    @Test func stragglersDoNotMoveAnOpenBreaker() {
        var b = opened(breaker(failures: 1))
        #expect(b.recordSuccess() == nil)
        #expect(b.recordFailure(now: .seconds(20)) == nil)
        #expect(b.state == .open)
        // The straggler's failure did not extend the open period.
        #expect(b.allow(now: .seconds(30)).allowed)
    }

    @Test func resultsWithoutATrialInFlightAreIgnoredInHalfOpen() {
        var b = opened(breaker(failures: 1, successes: 1))
        _ = b.allow(now: .seconds(30))
        b.cancel()
        #expect(b.recordSuccess() == nil)
        #expect(b.recordFailure(now: .seconds(30)) == nil)
        #expect(b.state == .halfOpen)
    }

    @Test func thresholdsBelowOneAreRaised() {
        let c = CircuitBreaker.Configuration(failureThreshold: 0, successThreshold: -1, halfOpenMaxRequests: 0)
        #expect(c.failureThreshold == 1 && c.successThreshold == 1 && c.halfOpenMaxRequests == 1)
    }
}
