/// What the load-aware algorithms know about each target: requests in flight, latency estimates,
/// queued inference tokens and adaptive weights, all fed by `LoadBalancer.begin` / `end`.
///
/// Why it exists: least-connections, bounded-load hashing, P2C, Peak-EWMA, adaptive and
/// least-tokens all read the same few per-target numbers; keeping them in one value updated in place
/// avoids each algorithm re-deriving them, and makes "a request finished" one call for the data plane.
/// Time only arrives as `now` arguments, so the estimates are deterministic under a manual clock.
struct TargetLoad: Sendable {
    var active: [Int]
    private(set) var totalActive = 0
    /// Peak-EWMA cost in seconds and the time (seconds) of its last observation (−∞ before the first).
    private var peakCost: [Double]
    private var peakStamp: [Double]
    /// Plain time-decayed latency EWMA in seconds (power-of-two-choices, latency metric).
    private var latency: [Double]
    private var latencyStamp: [Double]
    /// Estimated tokens of requests in flight, and observed tokens per second (EWMA α 0.3).
    private(set) var queuedTokens: [Int]
    private(set) var tokensPerSecond: [Double]
    var adaptive: AdaptiveWeights

    private let tau: Double
    private let initialLatency: Double
    private let failureLatency: Double
    /// Which estimates the algorithm reads: the others are not maintained (each costs an
    /// exponential per finished request, on the data plane's hot path).
    private let observes: Observed

    /// The estimates an algorithm reads.
    struct Observed: Sendable {
        var peak = false
        var latency = false
        var adaptive = false
    }

    init(weights: [Int], options: BalancerOptions, observes: Observed) {
        self.observes = observes
        let n = weights.count
        active = Array(repeating: 0, count: n)
        peakCost = Array(repeating: options.ewmaInitialLatency.policySeconds, count: n)
        peakStamp = Array(repeating: -.infinity, count: n)
        latency = Array(repeating: options.ewmaInitialLatency.policySeconds, count: n)
        latencyStamp = Array(repeating: -.infinity, count: n)
        queuedTokens = Array(repeating: 0, count: n)
        tokensPerSecond = Array(repeating: max(1, options.defaultTokensPerSecond), count: n)
        adaptive = AdaptiveWeights(weights: weights)
        tau = max(options.ewmaDecay.policySeconds, 1e-3)
        initialLatency = options.ewmaInitialLatency.policySeconds
        failureLatency = options.failureLatency.policySeconds
    }

    mutating func begin(_ target: Int, queuedTokens tokens: Int) {
        active[target] += 1
        totalActive += 1
        queuedTokens[target] += max(0, tokens)
    }

    mutating func end(
        _ target: Int, latency observed: Duration, success: Bool, tokens: Int?, queuedTokens queued: Int,
        now: Duration
    ) {
        if active[target] > 0 {
            active[target] -= 1
            totalActive -= 1
        }
        queuedTokens[target] = max(0, queuedTokens[target] - max(0, queued))
        if observes.peak || observes.latency || observes.adaptive {
            var rtt = max(0, observed.policySeconds)
            if observes.adaptive { adaptive.record(target, latency: rtt, success: success, now: now) }
            if !success { rtt = max(rtt, failureLatency) }
            if observes.peak { observePeak(target, rtt, now: now.policySeconds) }
            if observes.latency { observeLatency(target, rtt, now: now.policySeconds) }
        }
        if let tokens, tokens > 0, observed > .zero {
            let rate = Double(tokens) / observed.policySeconds
            tokensPerSecond[target] = max(1, 0.3 * rate + 0.7 * tokensPerSecond[target])
        }
    }

    /// Finagle's Peak-EWMA: a sample above the estimate replaces it at once (react to spikes now),
    /// a lower one is blended in with weight 1 − e^(−Δt/τ).
    private mutating func observePeak(_ i: Int, _ rtt: Double, now: Double) {
        let stamp = peakStamp[i]
        guard stamp.isFinite else {
            peakCost[i] = rtt
            peakStamp[i] = now
            return
        }
        let w = PolicyMath.exp(-max(0, now - stamp) / tau)
        peakCost[i] = rtt > peakCost[i] ? rtt : peakCost[i] * w + rtt * (1 - w)
        peakStamp[i] = now
    }

    private mutating func observeLatency(_ i: Int, _ rtt: Double, now: Double) {
        let stamp = latencyStamp[i]
        guard stamp.isFinite else {
            latency[i] = rtt
            latencyStamp[i] = now
            return
        }
        let w = PolicyMath.exp(-max(0, now - stamp) / tau)
        latency[i] = latency[i] * w + rtt * (1 - w)
        latencyStamp[i] = now
    }

    /// Decays an estimate toward zero while a target is idle (as Finagle's `observe(0)` does), so a
    /// target that was slow once is probed again instead of being starved forever.
    private func decayed(_ value: Double, since stamp: Double, now: Double) -> Double {
        guard stamp.isFinite else { return initialLatency }
        let elapsed = now - stamp
        guard elapsed > 0 else { return value }
        return value * PolicyMath.exp(-elapsed / tau)
    }

    /// Peak-EWMA cost in seconds at `now` (seconds), floored at 1 µs so in-flight counts still
    /// separate idle targets.
    func peakCost(_ i: Int, now: Double) -> Double {
        max(decayed(peakCost[i], since: peakStamp[i], now: now), 1e-6)
    }

    /// Latency EWMA in seconds at `now` (seconds), floored at 1 µs.
    func latencyEstimate(_ i: Int, now: Double) -> Double {
        max(decayed(latency[i], since: latencyStamp[i], now: now), 1e-6)
    }

    /// Seconds of queued work (least_tokens_queued).
    func tokenBacklog(_ i: Int) -> Double {
        Double(queuedTokens[i]) / max(1, tokensPerSecond[i])
    }
}

/// The adaptive algorithm's per-target effective weights (spec §5.6 row 10).
///
/// Why it exists: a target that starts failing or slowing down should lose traffic gradually
/// (× 0.7 per 10 s interval) and win it back gradually (× 1.1), bounded to [0.1, 2] × its configured
/// weight, instead of flapping between all and nothing. An interval is judged only once a target
/// has at least 100 results, so a handful of errors cannot halve a target's share.
struct AdaptiveWeights: Sendable {
    static let interval: Duration = .seconds(10)
    static let minRequests = 100
    static let errorThreshold = 0.05
    static let slowThreshold = 0.5  // seconds: p99 above this degrades the target
    static let penalty = 0.7
    static let recovery = 1.1
    static let minRatio = 0.1
    static let maxRatio = 2.0
    /// Weight of the newest interval in the smoothed error rate and latency.
    static let decay = 0.8

    private let base: [Double]
    private(set) var effective: [Double]
    private var requests: [Int]
    private var errors: [Int]
    /// Results slower than `slowThreshold`: p99 exceeds it exactly when more than 1 % are slower.
    private var slow: [Int]
    private var latencySum: [Double]
    private(set) var smoothedErrorRate: [Double]
    private(set) var smoothedLatency: [Double]
    private var lastAdjustment: Duration?

    init(weights: [Int]) {
        let n = weights.count
        base = weights.map(Double.init)
        effective = base
        requests = Array(repeating: 0, count: n)
        errors = requests
        slow = requests
        latencySum = Array(repeating: 0, count: n)
        smoothedErrorRate = latencySum
        smoothedLatency = latencySum
    }

    mutating func record(_ i: Int, latency: Double, success: Bool, now: Duration) {
        requests[i] += 1
        if !success { errors[i] += 1 }
        if latency > Self.slowThreshold { slow[i] += 1 }
        latencySum[i] += latency
        guard let last = lastAdjustment else {
            lastAdjustment = now
            return
        }
        if now - last >= Self.interval { adjust(now: now) }
    }

    /// Re-weights every target with enough results; the others keep accumulating.
    mutating func adjust(now: Duration) {
        lastAdjustment = now
        for i in base.indices where requests[i] >= Self.minRequests {
            let count = Double(requests[i])
            let errorRate = Double(errors[i]) / count
            let p99Slow = slow[i] * 100 > requests[i]
            smoothedErrorRate[i] = Self.decay * errorRate + (1 - Self.decay) * smoothedErrorRate[i]
            smoothedLatency[i] = Self.decay * (latencySum[i] / count) + (1 - Self.decay) * smoothedLatency[i]
            let factor = errorRate > Self.errorThreshold || p99Slow ? Self.penalty : Self.recovery
            effective[i] = min(max(effective[i] * factor, base[i] * Self.minRatio), base[i] * Self.maxRatio)
            requests[i] = 0
            errors[i] = 0
            slow[i] = 0
            latencySum[i] = 0
        }
    }

    /// weight / (1 + in-flight + error penalty + latency penalty); errors count 100 per unit rate
    /// (5 % ≈ 5 extra requests in flight), latency 1 per 10 ms.
    func score(_ i: Int, active: Int) -> Double {
        let errorPenalty = smoothedErrorRate[i] * 100
        let latencyPenalty = smoothedLatency[i] * 1000 / 10
        return effective[i] / (1 + Double(active) + errorPenalty + latencyPenalty)
    }
}
