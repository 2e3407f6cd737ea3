/// The stateless or nearly stateless algorithms: round robin, smooth weighted round robin, random,
/// least connections (plain and weighted), power of two choices, Peak-EWMA, adaptive and least tokens.
///
/// Why it exists: each algorithm is a small function of (targets, load, cursor or random, eligibility),
/// kept apart from `LoadBalancer` so it reads like its definition. Every function consults `eligible`
/// before choosing, so an unhealthy or breaker-open target is never returned, and returns nil only
/// when no eligible target exists (the caller answers 503).
enum Selection {
    /// The first eligible index scanning `start`, `start + 1`, … with wrap-around.
    static func firstEligible(from start: Int, count n: Int, _ eligible: (Int) -> Bool) -> Int? {
        guard n > 0 else { return nil }
        var i = start % n
        for _ in 0..<n {
            if eligible(i) { return i }
            i += 1
            if i == n { i = 0 }
        }
        return nil
    }

    /// Round robin over the eligible targets: the cursor moves past the chosen one, so an ineligible
    /// target's turns are spread over the others instead of doubling its successor's share.
    static func roundRobin(cursor: inout Int, count n: Int, _ eligible: (Int) -> Bool) -> Int? {
        guard let i = firstEligible(from: cursor, count: n, eligible) else { return nil }
        cursor = i + 1 == n ? 0 : i + 1
        return i
    }

    /// Uniform over the eligible targets: a few O(1) draws, then an exact count-and-index fallback
    /// when most targets are ineligible.
    static func random(count n: Int, random rng: inout SplitMixRandom, _ eligible: (Int) -> Bool) -> Int? {
        guard n > 0 else { return nil }
        for _ in 0..<8 {
            let i = rng.below(n)
            if eligible(i) { return i }
        }
        var count = 0
        for i in 0..<n where eligible(i) { count += 1 }
        guard count > 0 else { return nil }
        var k = rng.below(count)
        for i in 0..<n where eligible(i) {
            if k == 0 { return i }
            k -= 1
        }
        return nil
    }

    /// Picks `members` with probability proportional to `weight` (≤ 0 never chosen). Two passes, no allocation.
    static func weightedRandom(
        among members: some Sequence<Int>, random rng: inout SplitMixRandom, weight: (Int) -> Double,
        _ eligible: (Int) -> Bool
    ) -> Int? {
        var total = 0.0
        var last: Int?
        for i in members where eligible(i) {
            let w = weight(i)
            if w > 0, w.isFinite {
                total += w
                last = i
            }
        }
        guard let last, total > 0 else { return nil }
        var threshold = rng.unit() * total
        for i in members where eligible(i) {
            let w = weight(i)
            guard w > 0, w.isFinite else { continue }
            threshold -= w
            if threshold < 0 { return i }
        }
        return last
    }

    /// The eligible target that `isBetter` ranks first; the scan starts at a rotating cursor so ties
    /// (all idle, say) are shared instead of always going to target 0.
    static func best(
        cursor: inout Int, count n: Int, _ eligible: (Int) -> Bool, isBetter: (Int, Int) -> Bool
    ) -> Int? {
        guard n > 0 else { return nil }
        let start = cursor % n
        cursor = start + 1 == n ? 0 : start + 1
        var best: Int?
        var i = start
        for _ in 0..<n {
            if eligible(i) {
                if let b = best {
                    if isBetter(i, b) { best = i }
                } else {
                    best = i
                }
            }
            i += 1
            if i == n { i = 0 }
        }
        return best
    }

    /// Fewest requests in flight.
    static func leastConnections(cursor: inout Int, load: TargetLoad, _ eligible: (Int) -> Bool) -> Int? {
        best(cursor: &cursor, count: load.active.count, eligible) { load.active[$0] < load.active[$1] }
    }

    /// Lowest in-flight / weight (compared by cross-multiplication, exact); ties go to the higher weight.
    static func weightedLeastConnections(
        cursor: inout Int, load: TargetLoad, weights: [Int], _ eligible: (Int) -> Bool
    ) -> Int? {
        best(cursor: &cursor, count: weights.count, eligible) { i, j in
            let lhs = load.active[i] * weights[j]
            let rhs = load.active[j] * weights[i]
            return lhs < rhs || (lhs == rhs && weights[i] > weights[j])
        }
    }

    /// Power of two (or three) choices: sample distinct eligible targets at random, keep the lightest.
    /// O(1) while most targets are eligible; falls back to sampling the eligible list otherwise.
    static func powerOfChoices(
        choices: Int, metric: BalancerOptions.LoadMetric, load: TargetLoad, weights: [Int], now: Duration,
        random rng: inout SplitMixRandom, _ eligible: (Int) -> Bool
    ) -> Int? {
        let n = weights.count
        guard n > 0 else { return nil }
        let k = min(max(choices, 1), 3)
        let seconds = now.policySeconds
        func cost(_ i: Int) -> Double {
            switch metric {
            case .connections:
                return Double(load.active[i]) / Double(weights[i])
            case .latency:
                return load.latencyEstimate(i, now: seconds) * Double(load.active[i] + 1) / Double(weights[i])
            }
        }
        var sampled = (-1, -1, -1)
        var found = 0
        var attempts = 0
        while found < k, attempts < 4 * k {
            attempts += 1
            let i = rng.below(n)
            if i == sampled.0 || i == sampled.1 || !eligible(i) { continue }
            switch found {
            case 0: sampled.0 = i
            case 1: sampled.1 = i
            default: sampled.2 = i
            }
            found += 1
        }
        if found == k {
            var winner = sampled.0
            if cost(sampled.1) < cost(winner) { winner = sampled.1 }
            if k == 3, cost(sampled.2) < cost(winner) { winner = sampled.2 }
            return winner
        }
        var list = (0..<n).filter(eligible)
        guard !list.isEmpty else { return nil }
        let m = min(k, list.count)
        for j in 0..<m { list.swapAt(j, j + rng.below(list.count - j)) }
        return list[0..<m].min { cost($0) < cost($1) }
    }

    /// The eligible target with the lowest `score` (each evaluated once), scanning from a rotating
    /// cursor so ties are shared.
    static func lowest(cursor: inout Int, count n: Int, _ eligible: (Int) -> Bool, score: (Int) -> Double) -> Int? {
        guard n > 0 else { return nil }
        let start = cursor % n
        cursor = start + 1 == n ? 0 : start + 1
        var best: Int?
        var bestScore = Double.infinity
        var i = start
        for _ in 0..<n {
            if eligible(i) {
                let s = score(i)
                if best == nil || s < bestScore {
                    best = i
                    bestScore = s
                }
            }
            i += 1
            if i == n { i = 0 }
        }
        return best
    }

    /// Peak-EWMA: lowest decayed peak latency × (1 + in-flight × penalty).
    static func peakEWMA(
        cursor: inout Int, load: TargetLoad, penalty: Double, now: Duration, _ eligible: (Int) -> Bool
    ) -> Int? {
        let seconds = now.policySeconds
        return lowest(cursor: &cursor, count: load.active.count, eligible) {
            load.peakCost($0, now: seconds) * (1 + Double(load.active[$0]) * penalty)
        }
    }

    /// Least tokens queued: lowest queued tokens ÷ observed tokens per second; ties to fewer in flight.
    static func leastTokens(cursor: inout Int, load: TargetLoad, _ eligible: (Int) -> Bool) -> Int? {
        best(cursor: &cursor, count: load.active.count, eligible) { i, j in
            let a = load.tokenBacklog(i)
            let b = load.tokenBacklog(j)
            return a < b || (a == b && load.active[i] < load.active[j])
        }
    }

    /// Adaptive: weighted random by score = effective weight / (1 + in-flight + penalties).
    static func adaptive(load: TargetLoad, random rng: inout SplitMixRandom, _ eligible: (Int) -> Bool) -> Int? {
        weightedRandom(
            among: load.active.indices, random: &rng, weight: { load.adaptive.score($0, active: load.active[$0]) },
            eligible)
    }
}

/// Smooth weighted round robin, as nginx does it: each pick adds every eligible target's weight to its
/// running score, takes the highest and subtracts the eligible total from it.
///
/// Why it exists: plain weighted round robin (counter modulo total weight) sends a heavy target its
/// whole share in one burst (a a a a a b c); the smooth variant interleaves (a a b a c a a) so no
/// target sees a burst, with exactly the configured proportions over every cycle.
struct SmoothWeighted: Sendable {
    private var current: [Int]

    init(count: Int) {
        current = Array(repeating: 0, count: count)
    }

    mutating func pick(among members: some Sequence<Int>, weights: [Int], _ eligible: (Int) -> Bool) -> Int? {
        var total = 0
        var best = -1
        for i in members where eligible(i) {
            current[i] += weights[i]
            total += weights[i]
            if best < 0 || current[i] > current[best] { best = i }
        }
        guard best >= 0 else { return nil }
        current[best] -= total
        return best
    }
}
