import Testing

@testable import SentinelPolicy

@Suite struct RotatingBalancers {
    @Test func roundRobinCyclesAndSpreadsSkippedTurns() {
        var lb = balancer(.roundRobin, makeTargets(3))
        var rng = SplitMixRandom(seed: 1)
        #expect((0..<6).map { _ in lb.next(&rng)! } == [0, 1, 2, 0, 1, 2])
        let counts = lb.histogram(3000) { $0 != 1 }
        #expect(counts == [1500, 0, 1500])
    }

    @Test func smoothWeightedMatchesNginxSequence() {
        var lb = balancer(.weighted, makeTargets(3, weights: [5, 1, 1]))
        var rng = SplitMixRandom(seed: 1)
        let names = ["a", "b", "c"]
        let sequence = (0..<14).map { _ in names[lb.next(&rng)!] }.joined(separator: " ")
        #expect(sequence == "a a b a c a a a a b a c a a")
    }

    @Test(arguments: [[5, 3, 2], [1, 1, 1, 1], [10, 1], [7, 2, 1, 4, 6]])
    func weightedDistributionWithin2Percent(weights: [Int]) {
        var lb = balancer(.weighted, makeTargets(weights.count, weights: weights))
        #expect(sharesMatch(lb.histogram(100_000), weights: weights, tolerance: 0.02))
    }

    @Test func weightedSkipsIneligibleKeepingProportions() {
        var lb = balancer(.weighted, makeTargets(3, weights: [5, 3, 2]))
        let counts = lb.histogram(10_000) { $0 != 0 }
        #expect(counts[0] == 0)
        #expect(sharesMatch([counts[1], counts[2]], weights: [3, 2], tolerance: 0.02))
    }

    @Test func randomIsUniformOverEligible() {
        var lb = balancer(.random, makeTargets(4))
        #expect(sharesMatch(lb.histogram(100_000), weights: [1, 1, 1, 1], tolerance: 0.02))
        let counts = lb.histogram(30_000) { $0 == 1 || $0 == 3 }
        #expect(counts[0] == 0 && counts[2] == 0)
        #expect(sharesMatch([counts[1], counts[3]], weights: [1, 1], tolerance: 0.03))
    }

    @Test func leastConnectionsPicksTheMinimum() {
        var lb = balancer(.leastConnections, makeTargets(3))
        var rng = SplitMixRandom(seed: 1)
        for (target, count) in [(0, 3), (1, 1), (2, 2)] {
            for _ in 0..<count { lb.begin(target) }
        }
        #expect(lb.next(&rng) == 1)
        #expect(lb.next(&rng) { $0 != 1 } == 2)
        lb.end(0, latency: .milliseconds(1), success: true, now: .zero)
        lb.end(0, latency: .milliseconds(1), success: true, now: .zero)
        lb.end(0, latency: .milliseconds(1), success: true, now: .zero)
        #expect(lb.next(&rng) == 0)
        #expect(lb.inFlight(0) == 0)
    }

    @Test func leastConnectionsSharesTies() {
        var lb = balancer(.leastConnections, makeTargets(4))
        // All idle: the rotating scan start spreads picks instead of always choosing target 0.
        #expect(lb.histogram(400) == [100, 100, 100, 100])
    }

    @Test func leastConnectionsEvensOutUnderLoad() {
        var lb = balancer(.leastConnections, makeTargets(3))
        var rng = SplitMixRandom(seed: 1)
        for _ in 0..<30 { lb.begin(lb.next(&rng)!) }
        #expect((0..<3).map(lb.inFlight) == [10, 10, 10])
    }

    @Test func weightedLeastConnectionsUsesRatioAndPrefersHeavierOnTies() {
        var lb = balancer(.weightedLeastConnections, makeTargets(3, weights: [1, 2, 4]))
        var rng = SplitMixRandom(seed: 1)
        #expect(lb.next(&rng) == 2)  // all idle: tie goes to the highest weight
        for (target, count) in [(0, 1), (1, 2), (2, 3)] {
            for _ in 0..<count { lb.begin(target) }
        }
        #expect(lb.next(&rng) == 2)  // 1/1, 2/2, 3/4
        lb.begin(2)
        #expect(lb.next(&rng) == 2)  // 1/1, 2/2, 4/4: a three-way tie goes to weight 4
        lb.begin(2)
        #expect(lb.next(&rng) == 1)  // 1/1, 2/2, 5/4: tie between weights 1 and 2 goes to 2
        var fresh = balancer(.weightedLeastConnections, makeTargets(3, weights: [1, 2, 4]))
        for _ in 0..<70 { fresh.begin(fresh.next(&rng)!) }
        #expect((0..<3).map(fresh.inFlight) == [10, 20, 40])
    }
}

@Suite struct EligibilityAcrossAlgorithms {
    /// Every algorithm returns only eligible targets, and nil exactly when none is eligible.
    @Test(arguments: BalancingAlgorithm.allCases)
    func onlyEligibleTargetsAreChosen(algorithm: BalancingAlgorithm) {
        let zones: [String?] = (0..<12).map { ["a", "b", "c", nil][$0 % 4] }
        var lb = balancer(algorithm, makeTargets(12, weights: (0..<12).map { $0 % 3 + 1 }, zones: zones)) {
            $0.localZone = "a"
            $0.subsetSize = 4
            $0.maglevTableSize = 1009
            $0.stickyKey = Array("k".utf8)
        }
        var rng = SplitMixRandom(seed: 42)
        for round in 0..<300 {
            let mask = rng.next() & 0xFFF
            let eligible = { (i: Int) in mask & (1 << UInt64(i)) != 0 }
            let key = round % 2 == 0 ? ipKey(round) : nil
            let picked = lb.next(&rng, key: key, now: .milliseconds(round), eligible: eligible)
            if mask == 0 {
                #expect(picked == nil)
            } else if let picked {
                #expect(eligible(picked), "\(algorithm) picked ineligible \(picked)")
                lb.begin(picked)
                if round % 3 == 0 {
                    lb.end(
                        picked, latency: .milliseconds(round % 50), success: round % 7 != 0, now: .milliseconds(round))
                }
            } else {
                // Only locality with failLocal may refuse while something is eligible; it is not configured here.
                Issue.record("\(algorithm) found nothing with mask \(mask)")
            }
        }
        var empty = LoadBalancer(targets: [], options: BalancerOptions(algorithm: algorithm))
        #expect(empty.next(&rng) == nil)
    }

    @Test(arguments: BalancingAlgorithm.allCases)
    func singleEligibleTargetAlwaysWins(algorithm: BalancingAlgorithm) {
        var lb = balancer(algorithm, makeTargets(5)) { $0.maglevTableSize = 1009 }
        var rng = SplitMixRandom(seed: 7)
        for i in 0..<50 {
            #expect(lb.next(&rng, key: ipKey(i)) { $0 == 3 } == 3)
        }
    }
}
