@testable import SentinelPolicy

/// `n` targets named 10.0.0.<i>:8080, with optional weights and zones.
func makeTargets(_ n: Int, weights: [Int]? = nil, zones: [String?]? = nil) -> [BalancerTarget] {
    (0..<n).map { i in
        BalancerTarget(address: "10.0.\(i / 250).\(i % 250 + 1):8080", weight: weights?[i] ?? 1, zone: zones?[i] ?? nil)
    }
}

/// A 4-byte client address for key `i`.
func ipKey(_ i: Int) -> [UInt8] {
    [
        UInt8(truncatingIfNeeded: i >> 24), UInt8(truncatingIfNeeded: i >> 16), UInt8(truncatingIfNeeded: i >> 8),
        UInt8(truncatingIfNeeded: i),
    ]
}

func balancer(
    _ algorithm: BalancingAlgorithm, _ targets: [BalancerTarget],
    _ configure: (inout BalancerOptions) -> Void = { _ in }
) -> LoadBalancer {
    var options = BalancerOptions(algorithm: algorithm)
    configure(&options)
    return LoadBalancer(targets: targets, options: options)
}

extension LoadBalancer {
    /// Picks with fresh entropy from `rng`.
    mutating func next(
        _ rng: inout SplitMixRandom, key: [UInt8]? = nil, cookie: String? = nil, now: Duration = .zero,
        eligible: (Int) -> Bool = { _ in true }
    ) -> Int? {
        pick(PickContext(hashKey: key, stickyCookie: cookie, now: now, using: &rng), eligible: eligible)?.target
    }

    /// Counts picks per target over `count` picks.
    mutating func histogram(_ count: Int, seed: UInt64 = 1, eligible: (Int) -> Bool = { _ in true }) -> [Int] {
        var rng = SplitMixRandom(seed: seed)
        var counts = [Int](repeating: 0, count: targets.count)
        for _ in 0..<count {
            if let i = next(&rng, eligible: eligible) { counts[i] += 1 }
        }
        return counts
    }
}

/// Each share within `tolerance` (relative) of weight / total weight.
func sharesMatch(_ counts: [Int], weights: [Int], tolerance: Double) -> Bool {
    let total = Double(counts.reduce(0, +))
    let totalWeight = Double(weights.reduce(0, +))
    return zip(counts, weights).allSatisfy { count, weight in
        let expected = Double(weight) / totalWeight
        return abs(Double(count) / total - expected) <= expected * tolerance
    }
}
