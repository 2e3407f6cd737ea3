import Testing

@testable import SentinelPolicy

private func feed(
    _ lb: inout LoadBalancer, _ target: Int, latency: Duration, success: Bool = true, times: Int = 1, at now: Duration
) {
    for _ in 0..<times {
        lb.begin(target)
        lb.end(target, latency: latency, success: success, now: now)
    }
}

@Suite struct PowerOfTwoChoicesTests {
    @Test func connectionsMetricAvoidsTheBusyTarget() {
        var lb = balancer(.powerOfTwoChoices, makeTargets(3))
        for _ in 0..<10 { lb.begin(0) }
        let counts = lb.histogram(1000)
        #expect(counts[0] == 0)
        #expect(counts[1] > 350 && counts[2] > 350)
    }

    @Test func connectionsMetricEvensOutUnderLoad() {
        var lb = balancer(.powerOfTwoChoices, makeTargets(4))
        var rng = SplitMixRandom(seed: 5)
        for _ in 0..<400 { lb.begin(lb.next(&rng)!) }
        let loads = (0..<4).map(lb.inFlight)
        #expect(loads.max()! - loads.min()! <= 3, "\(loads)")
    }

    @Test func latencyMetricPrefersTheFastTarget() {
        var lb = balancer(.powerOfTwoChoices, makeTargets(3)) { $0.loadMetric = .latency }
        feed(&lb, 0, latency: .milliseconds(200), times: 5, at: .seconds(1))
        feed(&lb, 1, latency: .milliseconds(5), times: 5, at: .seconds(1))
        feed(&lb, 2, latency: .milliseconds(6), times: 5, at: .seconds(1))
        var rng = SplitMixRandom(seed: 1)
        var counts = [0, 0, 0]
        for _ in 0..<1000 { counts[lb.next(&rng, now: .seconds(1))!] += 1 }
        #expect(counts[0] == 0)
        #expect(counts[1] > counts[2])  // 1 beats 2 whenever both are sampled
    }

    @Test func threeChoicesFindTheGlobalMinimum() {
        var lb = balancer(.powerOfTwoChoices, makeTargets(3)) { $0.choices = 3 }
        for (target, count) in [(0, 2), (1, 0), (2, 1)] {
            for _ in 0..<count { lb.begin(target) }
        }
        #expect(lb.histogram(200) == [0, 200, 0])
    }

    @Test func weightsAreHonoured() {
        var lb = balancer(.powerOfTwoChoices, makeTargets(2, weights: [1, 3]))
        var rng = SplitMixRandom(seed: 8)
        for _ in 0..<400 { lb.begin(lb.next(&rng)!) }
        #expect(lb.inFlight(0) == 100 && lb.inFlight(1) == 300)
    }
}

@Suite struct PeakEWMATests {
    @Test func prefersTheFastTargetUntilItIsLoaded() {
        var lb = balancer(.peakEWMA, makeTargets(2))
        feed(&lb, 0, latency: .milliseconds(50), at: .seconds(1))
        feed(&lb, 1, latency: .milliseconds(5), at: .seconds(1))
        var rng = SplitMixRandom(seed: 1)
        #expect(lb.next(&rng, now: .seconds(1)) == 1)
        // In flight requests cost 1.5 × each: 5 ms × (1 + 20 × 1.5) = 155 ms > 50 ms.
        for _ in 0..<20 { lb.begin(1) }
        #expect(lb.next(&rng, now: .seconds(1)) == 0)
    }

    @Test func reactsToAPeakAtOnce() {
        var lb = balancer(.peakEWMA, makeTargets(2))
        feed(&lb, 0, latency: .milliseconds(20), at: .zero)
        feed(&lb, 1, latency: .milliseconds(5), at: .zero)
        var rng = SplitMixRandom(seed: 1)
        #expect(lb.next(&rng, now: .zero) == 1)
        feed(&lb, 1, latency: .milliseconds(200), at: .milliseconds(100))
        #expect(lb.next(&rng, now: .milliseconds(100)) == 0)
        // A fast sample right after barely lowers the peak (weight 1 − e^(−0.1/10) ≈ 1 %).
        feed(&lb, 1, latency: .milliseconds(5), at: .milliseconds(200))
        #expect(lb.next(&rng, now: .milliseconds(200)) == 0)
    }

    @Test func idleSlowTargetIsProbedAgainAfterDecay() {
        var lb = balancer(.peakEWMA, makeTargets(2))
        feed(&lb, 0, latency: .milliseconds(100), at: .zero)
        feed(&lb, 1, latency: .milliseconds(10), at: .seconds(100))
        var rng = SplitMixRandom(seed: 1)
        // 100 ms × e^(−100/10) ≈ 4.5 µs < 10 ms: the once-slow target gets a chance again.
        #expect(lb.next(&rng, now: .seconds(100)) == 0)
    }

    @Test func fastFailuresDoNotAttractTraffic() {
        var lb = balancer(.peakEWMA, makeTargets(2))
        feed(&lb, 0, latency: .milliseconds(30), at: .zero)
        feed(&lb, 1, latency: .microseconds(200), success: false, at: .zero)
        var rng = SplitMixRandom(seed: 1)
        #expect(lb.next(&rng, now: .zero) == 0)
    }

    @Test func unobservedTargetsStartAtOneMillisecond() {
        var lb = balancer(.peakEWMA, makeTargets(2))
        feed(&lb, 0, latency: .milliseconds(2), at: .zero)
        var rng = SplitMixRandom(seed: 1)
        #expect(lb.next(&rng, now: .zero) == 1)
    }
}

@Suite struct AdaptiveTests {
    /// 150 results per target over one 10 s interval, then one more that triggers the adjustment.
    private func interval(_ lb: inout LoadBalancer, start: Duration, failing0: Double, slow0: Double = 0) {
        for i in 0..<150 {
            let now = start + .milliseconds(i * 60)
            let fail = Double(i) < 150 * failing0
            let slow = Double(i) < 150 * slow0
            feed(&lb, 0, latency: slow ? .milliseconds(800) : .milliseconds(10), success: !fail, at: now)
            feed(&lb, 1, latency: .milliseconds(10), at: now)
        }
        feed(&lb, 1, latency: .milliseconds(10), at: start + .seconds(10))
    }

    @Test func errorsCostWeightAndHealthRestoresIt() {
        var lb = balancer(.adaptive, makeTargets(2))
        interval(&lb, start: .zero, failing0: 0.5)
        #expect(abs(lb.effectiveWeight(0) - 0.7) < 1e-9)
        #expect(abs(lb.effectiveWeight(1) - 1.1) < 1e-9)
        let counts = lb.histogram(10_000)
        #expect(Double(counts[1]) / 10_000 > 0.9, "\(counts)")
        interval(&lb, start: .seconds(10), failing0: 0)
        #expect(abs(lb.effectiveWeight(0) - 0.77) < 1e-9)
    }

    @Test func weightsAreClampedToTenthAndDouble() {
        var lb = balancer(.adaptive, makeTargets(2))
        for k in 0..<12 { interval(&lb, start: .seconds(10 * k), failing0: 0.5) }
        #expect(abs(lb.effectiveWeight(0) - 0.1) < 1e-9)
        #expect(abs(lb.effectiveWeight(1) - 2.0) < 1e-9)
    }

    /// Regression: every algorithm used to feed the adaptive weights, so the configured weight
    /// reported for a round-robin target drifted with its error rate.
    @Test func otherAlgorithmsKeepTheirConfiguredWeights() {
        for algorithm in [BalancingAlgorithm.roundRobin, .leastConnections, .peakEWMA] {
            var lb = balancer(algorithm, makeTargets(2))
            interval(&lb, start: .zero, failing0: 0.5)
            #expect(lb.effectiveWeight(0) == 1, "\(algorithm)")
            #expect(lb.effectiveWeight(1) == 1, "\(algorithm)")
        }
    }

    @Test func slowP99IsPenalisedWithoutErrors() {
        var lb = balancer(.adaptive, makeTargets(2))
        interval(&lb, start: .zero, failing0: 0, slow0: 0.02)
        #expect(abs(lb.effectiveWeight(0) - 0.7) < 1e-9)
    }

    @Test func fewerThanAHundredResultsChangeNothing() {
        var lb = balancer(.adaptive, makeTargets(2))
        for i in 0..<50 { feed(&lb, 0, latency: .milliseconds(5), success: false, at: .milliseconds(i * 100)) }
        feed(&lb, 0, latency: .milliseconds(5), success: false, at: .seconds(11))
        #expect(lb.effectiveWeight(0) == 1)
    }

    @Test func initialPicksFollowWeights() {
        var lb = balancer(.adaptive, makeTargets(3, weights: [5, 3, 2]))
        #expect(sharesMatch(lb.histogram(100_000), weights: [5, 3, 2], tolerance: 0.02))
    }
}

@Suite struct LeastTokensQueuedTests {
    @Test func picksTheShortestTokenBacklog() {
        var lb = balancer(.leastTokensQueued, makeTargets(2))
        var rng = SplitMixRandom(seed: 1)
        lb.begin(0, queuedTokens: 500)
        lb.begin(1, queuedTokens: 100)
        #expect(lb.next(&rng) == 1)
    }

    @Test func learnsTokensPerSecond() {
        var lb = balancer(.leastTokensQueued, makeTargets(2))
        var rng = SplitMixRandom(seed: 1)
        lb.begin(0, queuedTokens: 500)  // 500 / 100 default = 5 s
        lb.begin(1, queuedTokens: 100)
        // 1000 tokens in 1 s: EWMA 0.3 × 1000 + 0.7 × 100 = 370 tokens/s.
        lb.end(1, latency: .seconds(1), success: true, tokens: 1000, queuedTokens: 100, now: .seconds(1))
        lb.begin(1, queuedTokens: 1000)  // 1000 / 370 ≈ 2.7 s
        #expect(lb.next(&rng) == 1)
        lb.begin(1, queuedTokens: 1000)  // 2000 / 370 ≈ 5.4 s
        #expect(lb.next(&rng) == 0)
    }

    @Test func withoutEstimatesFewestInFlightWins() {
        var lb = balancer(.leastTokensQueued, makeTargets(3))
        var rng = SplitMixRandom(seed: 1)
        lb.begin(0)
        lb.begin(2)
        #expect(lb.next(&rng) == 1)
    }
}
