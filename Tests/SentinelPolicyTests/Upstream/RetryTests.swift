import Testing

@testable import SentinelPolicy

@Suite struct RetryRuleTests {
    private let rules = RetryRules(maxAttempts: 3)

    @Test func idempotentMethods() {
        for m in ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"] { #expect(RetryRules.isIdempotent(m)) }
        for m in ["POST", "PATCH", "CONNECT", "get", "Get", ""] { #expect(!RetryRules.isIdempotent(m)) }
    }

    @Test(arguments: [
        (UpstreamFailure.connectRefused, true), (.connectTimeout, true), (.reusedConnectionClosed, true),
        (.status(502), true), (.status(503), true), (.status(504), true), (.status(500), false), (.status(429), false),
        (.readTimeout, false),
    ])
    func idempotentRequestRetries(failure: UpstreamFailure, expected: Bool) {
        #expect(rules.shouldRetry(method: "GET", bodySent: true, failure: failure, attempt: 1) == expected)
        #expect(rules.shouldRetry(method: "PUT", bodySent: true, failure: failure, attempt: 2) == expected)
    }

    @Test(arguments: [
        (UpstreamFailure.connectRefused, true), (.connectTimeout, true), (.reusedConnectionClosed, false),
        (.status(502), false), (.status(503), false), (.readTimeout, false),
    ])
    func nonIdempotentRetriesOnlyWhenNeverSent(failure: UpstreamFailure, expected: Bool) {
        #expect(rules.shouldRetry(method: "POST", bodySent: true, failure: failure, attempt: 1) == expected)
    }

    @Test func nonIdempotentOnAClosedIdleConnectionBeforeAnyByteWasWritten() {
        #expect(rules.shouldRetry(method: "POST", bodySent: false, failure: .reusedConnectionClosed, attempt: 1))
        #expect(!rules.shouldRetry(method: "POST", bodySent: false, failure: .status(503), attempt: 1))
    }

    @Test func attemptsAreBounded() {
        #expect(!rules.shouldRetry(method: "GET", bodySent: false, failure: .connectRefused, attempt: 3))
        #expect(
            !RetryRules(maxAttempts: 1).shouldRetry(
                method: "GET", bodySent: false, failure: .connectRefused, attempt: 1))
    }

    @Test func readTimeoutsAndStatusListAreConfigurable() {
        let custom = RetryRules(retryableStatuses: [500, 429], retryReadTimeouts: true)
        #expect(custom.shouldRetry(method: "GET", bodySent: true, failure: .readTimeout, attempt: 1))
        #expect(!custom.shouldRetry(method: "POST", bodySent: true, failure: .readTimeout, attempt: 1))
        #expect(custom.shouldRetry(method: "GET", bodySent: true, failure: .status(429), attempt: 1))
        #expect(!custom.shouldRetry(method: "GET", bodySent: true, failure: .status(502), attempt: 1))
    }

    @Test func backoffCapDoublesUpToTheMaximum() {
        let r = RetryRules(backoffBase: .milliseconds(100), backoffMax: .seconds(1))
        #expect(
            (1...6).map(r.backoffCap) == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1),
                .seconds(1),
            ])
        #expect(r.backoffCap(attempt: 10_000) == .seconds(1))
    }

    @Test func backoffIsFullJitterWithinBounds() {
        let r = RetryRules(backoffBase: .milliseconds(100), backoffMax: .seconds(10))
        var rng = SplitMixRandom(seed: 11)
        for attempt in 1...5 {
            let cap = r.backoffCap(attempt: attempt)
            var low = false
            var high = false
            for _ in 0..<2000 {
                let d = r.backoff(attempt: attempt, using: &rng)
                #expect(d >= .zero && d <= cap)
                if d < cap / 4 { low = true }
                if d > cap * 3 / 4 { high = true }
            }
            #expect(low && high, "jitter should span [0, \(cap)]")
        }
        #expect(RetryRules(backoffBase: .zero).backoff(attempt: 3, using: &rng) == .zero)
    }
}

@Suite struct RetryBudgetTests {
    @Test func ratioOfRecentRequests() {
        var budget = RetryBudget(ratio: 0.2, minPerSecond: 0)
        for _ in 0..<100 { budget.recordRequest(now: .milliseconds(500)) }
        #expect(budget.available(now: .seconds(1)) == 20)
        for _ in 0..<20 { #expect(budget.withdraw(now: .seconds(1)) == true) }
        #expect(budget.withdraw(now: .seconds(1)) == false)
        #expect(budget.available(now: .seconds(2)) == 0)
    }

    @Test func minimumPerSecondWithoutTraffic() {
        var budget = RetryBudget(ratio: 0.2, minPerSecond: 1)
        // 1 per second over the 10 s window.
        for _ in 0..<10 { #expect(budget.withdraw(now: .seconds(5)) == true) }
        #expect(budget.withdraw(now: .seconds(5)) == false)
    }

    @Test func windowSlides() {
        var budget = RetryBudget(ratio: 0.5, minPerSecond: 0)
        for _ in 0..<10 { budget.recordRequest(now: .seconds(1)) }
        for _ in 0..<5 { #expect(budget.withdraw(now: .seconds(2)) == true) }
        #expect(budget.withdraw(now: .seconds(10)) == false)
        // At 11 s the requests of second 1 have left the window; the retries of second 2 have not.
        #expect(budget.available(now: .seconds(11)) == 0)
        for _ in 0..<20 { budget.recordRequest(now: .seconds(11)) }
        #expect(budget.available(now: .seconds(11)) == 5)  // 10 allowed − 5 spent at second 2
        #expect(budget.available(now: .seconds(12)) == 10)  // second 2 has left too
    }
}

@Suite struct RetryStateTests {
    @Test func retryAvoidsTriedTargetsAndBacksOff() {
        var state = RetryState()
        var budget = RetryBudget()
        var rng = SplitMixRandom(seed: 1)
        let rules = RetryRules(maxAttempts: 3)
        state.started(target: 2)
        let first = state.failed(
            method: "GET", bodySent: true, failure: .status(503), rules: rules, budget: &budget, now: .zero, using: &rng
        )
        guard case .retry(let wait, let avoiding) = first else {
            Issue.record("expected a retry, got \(first)")
            return
        }
        #expect(wait <= .milliseconds(100))
        #expect(avoiding.indices == [2])
        state.started(target: 0)
        let second = state.failed(
            method: "GET", bodySent: true, failure: .connectRefused, rules: rules, budget: &budget, now: .zero,
            using: &rng)
        guard case .retry(let wait2, let avoiding2) = second else {
            Issue.record("expected a retry, got \(second)")
            return
        }
        #expect(wait2 <= .milliseconds(200))
        #expect(avoiding2.indices == [2, 0])
        state.started(target: 1)
        #expect(
            state.failed(
                method: "GET", bodySent: true, failure: .connectRefused, rules: rules, budget: &budget, now: .zero,
                using: &rng)
                == .giveUp(.attemptsExhausted))
    }

    @Test func unsafeReplayIsRefusedWithoutSpendingBudget() {
        var state = RetryState()
        var budget = RetryBudget(ratio: 0, minPerSecond: 1)
        var rng = SplitMixRandom(seed: 1)
        state.started(target: 0)
        #expect(
            state.failed(
                method: "POST", bodySent: true, failure: .status(502), rules: RetryRules(), budget: &budget, now: .zero,
                using: &rng)
                == .giveUp(.notRetryable))
        #expect(budget.available(now: .zero) == 10)
    }

    @Test func exhaustedBudgetStopsRetries() {
        var budget = RetryBudget(ratio: 0, minPerSecond: 0)
        var rng = SplitMixRandom(seed: 1)
        var state = RetryState()
        state.started(target: 0)
        #expect(
            state.failed(
                method: "GET", bodySent: false, failure: .connectTimeout, rules: RetryRules(), budget: &budget,
                now: .zero, using: &rng)
                == .giveUp(.budgetExhausted))
    }

    @Test func balancerPrefersUntriedTargets() {
        var lb = balancer(.roundRobin, makeTargets(3))
        var tried = TriedTargets()
        tried.insert(0)
        tried.insert(1)
        for _ in 0..<5 {
            #expect(lb.pick(PickContext(random: 0), avoiding: tried) { _ in true }?.target == 2)
        }
        #expect(lb.pick(PickContext(random: 0), avoiding: tried) { $0 != 2 } != nil)
    }
}
