import Testing
@testable import SentinelRateLimit

/// The token bucket's arithmetic on a manual clock (nanoseconds).
@Suite struct TokenBucketTests {
    let second: UInt64 = 1_000_000_000

    /// Runs `count` requests at `now` against one state; returns how many passed.
    func burst(_ b: TokenBucket, tat: inout UInt64, now: UInt64, count: Int) -> Int {
        var passed = 0
        for _ in 0..<count {
            let d = b.decide(tat: tat, now: now)
            if case .admitted = d.outcome { passed += 1 }
            if let n = d.newTAT { tat = n }
        }
        return passed
    }

    @Test func aFreshKeyMaySendTheBurstAtOnceThenTheRate() {
        let b = TokenBucket(ratePerSecond: 100, burst: 20)
        var tat: UInt64 = 0
        let t0: UInt64 = 5 * second
        #expect(burst(b, tat: &tat, now: t0, count: 50) == 20)
        // 10 ms later one token has come back.
        #expect(burst(b, tat: &tat, now: t0 + 10_000_000, count: 5) == 1)
        // Over a second at 1,000 requests a second, exactly the rate passes.
        var passed = 0
        for i in 1...1000 { passed += burst(b, tat: &tat, now: t0 + 10_000_000 + UInt64(i) * 1_000_000, count: 1) }
        #expect(passed == 100)
    }

    @Test func remainingCountsDownAndRetryAfterSaysWhenTheNextTokenComes() {
        let b = TokenBucket(ratePerSecond: 10, burst: 3)
        let now: UInt64 = 100 * second
        let d1 = b.decide(tat: 0, now: now)
        #expect(d1.outcome == .admitted && d1.remaining == 2)
        #expect(d1.fullAfter == 100_000_000)
        let d2 = b.decide(tat: d1.newTAT!, now: now)
        let d3 = b.decide(tat: d2.newTAT!, now: now)
        #expect(d2.remaining == 1 && d3.remaining == 0)
        let d4 = b.decide(tat: d3.newTAT!, now: now)
        #expect(d4.outcome == .limited && d4.newTAT == nil)
        #expect(d4.retryAfter == 100_000_000)
        #expect(d4.fullAfter == 300_000_000)
    }

    @Test func aDelayWithinTheCapReservesTheNextToken() {
        let b = TokenBucket(ratePerSecond: 10, burst: 1)
        let now: UInt64 = 7 * second
        let d1 = b.decide(tat: 0, now: now, maxDelay: 250_000_000)
        #expect(d1.outcome == .admitted)
        let d2 = b.decide(tat: d1.newTAT!, now: now, maxDelay: 250_000_000)
        #expect(d2.outcome == .delayed(nanoseconds: 100_000_000))
        let d3 = b.decide(tat: d2.newTAT!, now: now, maxDelay: 250_000_000)
        #expect(d3.outcome == .delayed(nanoseconds: 200_000_000))
        // The next would wait 300 ms, beyond the cap: limited, and nothing reserved.
        let d4 = b.decide(tat: d3.newTAT!, now: now, maxDelay: 250_000_000)
        #expect(d4.outcome == .limited && d4.newTAT == nil && d4.retryAfter == 300_000_000)
    }

    @Test func burstZeroStillLetsTheRateThrough() {
        let b = TokenBucket(ratePerSecond: 2, burst: 0)
        #expect(b.capacity == 1)
        var tat: UInt64 = 0
        #expect(burst(b, tat: &tat, now: second, count: 3) == 1)
        #expect(burst(b, tat: &tat, now: second + second / 2, count: 3) == 1)
    }

    @Test func anIdleKeyIsAFullBucket() {
        let b = TokenBucket(ratePerSecond: 100, burst: 5)
        var tat: UInt64 = 0
        #expect(burst(b, tat: &tat, now: second, count: 10) == 5)
        // Long after, the old state is in the past: the same as a key never seen.
        #expect(tat <= 2 * second)
        #expect(burst(b, tat: &tat, now: 60 * second, count: 10) == 5)
    }

    @Test func oddRatesRoundTheIntervalToTheNearestNanosecond() {
        #expect(TokenBucket(ratePerSecond: 3, burst: 1).interval == 333_333_333)
        #expect(TokenBucket(ratePerSecond: 7, burst: 1).interval == 142_857_143)
        #expect(TokenBucket(ratePerSecond: 1_000_000_000, burst: 1).interval == 1)
    }
}

@Suite struct RateLimitVerdictTests {
    @Test func aRejectionCarriesRetryAfterAndTheLimitHeaders() {
        let rule = RateLimitRule(scope: "api", ratePerSecond: 10, burst: 1)
        let b = rule.bucket
        let now: UInt64 = 1_000_000_000
        let first = b.decide(tat: 0, now: now)
        let second = b.decide(tat: first.newTAT!, now: now)
        let v = RateLimitVerdict(decision: second, rule: rule, wallClockNanos: 1_700_000_000_000_000_000)
        #expect(v.action == .reject)
        #expect(v.retryAfterSeconds == 1)
        #expect(v.headers.map(\.0) == ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"])
        #expect(v.headers.map(\.1) == ["10", "0", "1700000001", "1"])
        let ok = RateLimitVerdict(decision: first, rule: rule, wallClockNanos: 1_700_000_000_000_000_000)
        #expect(ok.action == .proceed && !ok.limited && ok.retryAfterSeconds == 0 && ok.headers.count == 3)
    }

    @Test func logOnlyLetsTheRequestThroughButCountsItAsLimited() {
        let rule = RateLimitRule(scope: "api", ratePerSecond: 1, burst: 1, onLimit: .logOnly)
        let d = rule.bucket.decide(tat: 10_000_000_000, now: 1)
        let v = RateLimitVerdict(decision: d, rule: rule, wallClockNanos: 0)
        #expect(v.action == .logOnly && v.limited)
    }

    @Test func aDelayBeyondTheCapIsARejection() {
        let rule = RateLimitRule(scope: "api", ratePerSecond: 1, burst: 1, onLimit: .delay(maxDelay: 10))
        let d = rule.bucket.decide(tat: 5_000_000_000, now: 1, maxDelay: 10)
        #expect(RateLimitVerdict(decision: d, rule: rule, wallClockNanos: 0).action == .reject)
    }
}

@Suite struct SipHashTests {
    /// The reference vectors of SipHash-2-4 (key 00 01 … 0f, messages 00 01 … of length n).
    @Test func referenceVectors() {
        func hash(_ n: Int) -> UInt64 {
            var h = SipHasher(k0: 0x0706050403020100, k1: 0x0f0e0d0c0b0a0908)
            h.combine(contentsOf: (0..<n).map { UInt8($0) })
            return h.finalize()
        }
        #expect(hash(0) == 0x726fdb47dd0e0e31)
        #expect(hash(1) == 0x74f839c593dc67fd)
        #expect(hash(2) == 0x0d6c8009d9a94f5a)
        #expect(hash(15) == 0xa129ca6149be45e5)
    }
}
