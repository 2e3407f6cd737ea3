/// Chooses an upstream target for each request with one of the fifteen algorithms of spec §5.6, and
/// learns from each request's outcome.
///
/// Why it exists: the data plane needs one value per upstream (per event loop) that answers "which
/// target?" in O(1)–O(n) with no locks, no clock reads and no I/O, so that every decision is testable
/// with a manual clock and a seeded random source. Health and circuit breakers stay outside: the
/// caller passes `eligible`, and a target for which it returns false is never chosen. A nil pick
/// means no eligible target: answer 503 (`NoHealthyUpstream`).
///
/// Usage per request: `pick` → `begin(target)` when the upstream request starts → `end(target, …)`
/// when it finishes (or fails). Not thread-safe by design (a value owned by one event loop); build
/// a new one on reload — hashing algorithms place keys identically for the same targets and seed.
public struct LoadBalancer: Sendable {
    /// The algorithm's immutable tables; mutable state lives in the stored properties below so it is
    /// updated in place without copy-on-write of the tables.
    private enum Strategy: Sendable {
        case roundRobin
        case weighted
        case leastConnections
        case weightedLeastConnections
        case random
        case ipHash(WeightedSlots)
        case consistentHash(HashRing)
        case maglev(MaglevTable)
        case powerOfChoices(Int, BalancerOptions.LoadMetric)
        case adaptive
        case peakEWMA(Double)
        case locality(ZoneTiers)
        case subset(SubsetRanking)
        case leastTokens
    }

    public let targets: [BalancerTarget]
    public let options: BalancerOptions
    /// Weights clamped to 1…1,000,000.
    private let weights: [Int]
    private let strategy: Strategy
    /// Sticky cookie value per target (sticky algorithm only), signed once at construction.
    private let stickyValues: [String]?
    private var cursor = 0
    private var smooth: SmoothWeighted
    private var load: TargetLoad

    public init(targets: [BalancerTarget], options: BalancerOptions = BalancerOptions()) {
        self.targets = targets
        self.options = options
        let weights = targets.map { min(max($0.weight, 1), 1_000_000) }
        self.weights = weights
        smooth = SmoothWeighted(count: targets.count)
        var algorithm = options.algorithm
        if algorithm == .sticky {
            stickyValues = StickyCookie(key: options.stickyKey).values(for: targets)
            algorithm = options.stickyFallback == .sticky ? .roundRobin : options.stickyFallback
        } else {
            stickyValues = nil
        }
        strategy = Self.strategy(algorithm, targets: targets, weights: weights, options: options)
        var observes = TargetLoad.Observed()
        switch strategy {
        case .peakEWMA: observes.peak = true
        case .powerOfChoices(_, .latency): observes.latency = true
        case .adaptive: observes.adaptive = true
        default: break
        }
        load = TargetLoad(weights: weights, options: options, observes: observes)
    }

    private static func strategy(
        _ algorithm: BalancingAlgorithm, targets: [BalancerTarget], weights: [Int], options: BalancerOptions
    ) -> Strategy {
        switch algorithm {
        case .roundRobin, .sticky: return .roundRobin
        case .weighted: return .weighted
        case .leastConnections: return .leastConnections
        case .weightedLeastConnections: return .weightedLeastConnections
        case .random: return .random
        case .ipHash: return .ipHash(WeightedSlots(weights: weights))
        case .consistentHash:
            return .consistentHash(
                HashRing(
                    targets: targets, weights: weights, virtualNodes: options.virtualNodes,
                    loadFactor: options.loadFactor, seed: options.hashSeed))
        case .maglev:
            return .maglev(
                MaglevTable(targets: targets, weights: weights, size: options.maglevTableSize, seed: options.hashSeed))
        case .powerOfTwoChoices: return .powerOfChoices(min(max(options.choices, 2), 3), options.loadMetric)
        case .adaptive: return .adaptive
        case .peakEWMA: return .peakEWMA(max(0, options.ewmaLoadPenalty))
        case .localityAware:
            return .locality(
                ZoneTiers(
                    targets: targets, localZone: options.localZone, zonePriority: options.zonePriority,
                    fallback: options.localityFallback))
        case .deterministicSubset:
            return .subset(
                SubsetRanking(
                    targets: targets, proxyID: options.proxyID, size: options.subsetSize, seed: options.hashSeed))
        case .leastTokensQueued: return .leastTokens
        }
    }

    /// Picks an eligible target, or nil when `eligible` rejects them all.
    ///
    /// `eligible` must give the same answer for a target throughout one call (it is asked several
    /// times); typically "health says eligible and the circuit breaker would allow it".
    public mutating func pick(_ context: PickContext, eligible: (Int) -> Bool) -> Pick? {
        guard !targets.isEmpty else { return nil }
        guard let stickyValues else { return select(context, eligible).map { Pick(target: $0) } }
        if let cookie = context.stickyCookie, let i = StickyCookie.verify(cookie, expected: stickyValues), eligible(i) {
            return Pick(target: i)
        }
        guard let i = select(context, eligible) else { return nil }
        return Pick(target: i, setCookie: stickyValues[i])
    }

    /// Picks a target not in `tried` when one is eligible, otherwise any eligible target: a retry
    /// prefers a different target but does not fail just because the only healthy one was tried.
    public mutating func pick(_ context: PickContext, avoiding tried: TriedTargets, eligible: (Int) -> Bool) -> Pick? {
        if !tried.isEmpty, let pick = pick(context, eligible: { eligible($0) && !tried.contains($0) }) {
            return pick
        }
        return pick(context, eligible: eligible)
    }

    private mutating func select(_ context: PickContext, _ eligible: (Int) -> Bool) -> Int? {
        var rng = SplitMixRandom(seed: context.random)
        let n = targets.count
        switch strategy {
        case .roundRobin:
            return Selection.roundRobin(cursor: &cursor, count: n, eligible)
        case .weighted:
            return smooth.pick(among: 0..<n, weights: weights, eligible)
        case .leastConnections:
            return Selection.leastConnections(cursor: &cursor, load: load, eligible)
        case .weightedLeastConnections:
            return Selection.weightedLeastConnections(cursor: &cursor, load: load, weights: weights, eligible)
        case .random:
            return Selection.random(count: n, random: &rng, eligible)
        case .ipHash(let slots):
            return slots.pick(keyHash: keyHash(context, &rng), eligible)
        case .consistentHash(let ring):
            return ring.pick(keyHash: keyHash(context, &rng), load: load, eligible)
        case .maglev(let table):
            return table.pick(keyHash: keyHash(context, &rng), eligible)
        case .powerOfChoices(let choices, let metric):
            return Selection.powerOfChoices(
                choices: choices, metric: metric, load: load, weights: weights, now: context.now, random: &rng, eligible
            )
        case .adaptive:
            return Selection.adaptive(load: load, random: &rng, eligible)
        case .peakEWMA(let penalty):
            return Selection.peakEWMA(cursor: &cursor, load: load, penalty: penalty, now: context.now, eligible)
        case .locality(let tiers):
            return tiers.pick(smooth: &smooth, weights: weights, random: &rng, eligible)
        case .subset(let ranking):
            return ranking.pick(cursor: &cursor, eligible)
        case .leastTokens:
            return Selection.leastTokens(cursor: &cursor, load: load, eligible)
        }
    }

    /// The hash of the caller's key; without a key, hashing algorithms spread requests at random
    /// rather than sending them all to one target (the original's failure mode).
    private func keyHash(_ context: PickContext, _ rng: inout SplitMixRandom) -> UInt64 {
        guard let key = context.hashKey else { return rng.next() }
        return StableHash.hash(key, seed: options.hashSeed)
    }

    /// Call when a request to `target` starts; `queuedTokens` is its estimated token count (inference).
    public mutating func begin(_ target: Int, queuedTokens: Int = 0) {
        guard targets.indices.contains(target) else { return }
        load.begin(target, queuedTokens: queuedTokens)
    }

    /// Call once per `begin`, when the request finished or failed.
    /// - Parameters:
    ///   - latency: time to the response (or to the failure).
    ///   - success: false for connection failures, timeouts and 5xx: they feed adaptive weights and
    ///     count as at least `failureLatency` in latency estimates.
    ///   - tokens: tokens the upstream produced (inference), to learn its tokens per second.
    ///   - queuedTokens: the estimate passed to `begin`, now removed from the queue.
    public mutating func end(
        _ target: Int, latency: Duration, success: Bool, tokens: Int? = nil, queuedTokens: Int = 0, now: Duration
    ) {
        guard targets.indices.contains(target) else { return }
        load.end(target, latency: latency, success: success, tokens: tokens, queuedTokens: queuedTokens, now: now)
    }

    /// Requests in flight to `target` (begun, not ended).
    public func inFlight(_ target: Int) -> Int {
        targets.indices.contains(target) ? load.active[target] : 0
    }

    /// Adaptive balancing's current weight for `target` (its configured weight for other algorithms).
    public func effectiveWeight(_ target: Int) -> Double {
        targets.indices.contains(target) ? load.adaptive.effective[target] : 0
    }

    /// This proxy's subset (deterministic_subset), best-ranked first; nil for other algorithms.
    public var subset: [Int]? {
        if case .subset(let ranking) = strategy { return Array(ranking.members) }
        return nil
    }

    /// The sticky cookie value for `target`, or nil when the algorithm is not sticky.
    public func stickyCookieValue(for target: Int) -> String? {
        guard let stickyValues, targets.indices.contains(target) else { return nil }
        return stickyValues[target]
    }

    /// Slots per target of the maglev table, for balance checks and metrics; nil for other algorithms.
    public var maglevShares: [Int]? {
        if case .maglev(let table) = strategy { return table.shares() }
        return nil
    }
}
