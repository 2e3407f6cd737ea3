/// One backend as the balancer sees it: an opaque address, a relative weight and an optional zone.
///
/// Why it exists: SentinelPolicy stays independent of the configuration model (the adapter maps
/// `UpstreamTarget` to this), so policy can be tested and reused without KDL or sockets.
/// The address is only a stable name here: it seeds hash placement and binds sticky cookies.
public struct BalancerTarget: Sendable, Hashable {
    public var address: String
    /// Relative share; clamped to 1…1,000,000 by the balancer so sums cannot overflow.
    public var weight: Int
    /// Zone label for locality-aware balancing; nil never matches the local zone.
    public var zone: String?

    public init(address: String, weight: Int = 1, zone: String? = nil) {
        self.address = address
        self.weight = weight
        self.zone = zone
    }
}

/// The fifteen balancing algorithms of spec §5.6, with the original's primary names as raw values.
public enum BalancingAlgorithm: String, Sendable, Hashable, CaseIterable {
    case roundRobin = "round_robin"
    case weighted
    case leastConnections = "least_connections"
    case weightedLeastConnections = "weighted_least_conn"
    case random
    case ipHash = "ip_hash"
    case consistentHash = "consistent_hash"
    case maglev
    case powerOfTwoChoices = "power_of_two_choices"
    case adaptive
    case peakEWMA = "peak_ewma"
    case localityAware = "locality_aware"
    case deterministicSubset = "deterministic_subset"
    case leastTokensQueued = "least_tokens_queued"
    case sticky
}

/// Every tunable of every algorithm, with the original's defaults.
///
/// Why it exists: one plain value the adapter fills from `LoadBalancingConfig` (plus the values the
/// process supplies: zone, proxy id, cookie key), so building a balancer never reads the environment.
public struct BalancerOptions: Sendable, Hashable {
    /// What locality-aware balancing does when the local zone has no eligible target.
    public enum LocalityFallback: Sendable, Hashable {
        /// Weighted round robin over the next zone tier (zone-priority order, then all others).
        case roundRobin
        /// Weighted random over the next zone tier.
        case random
        /// No target (503): cross-zone traffic is forbidden.
        case failLocal
    }

    /// The load power-of-two-choices compares.
    public enum LoadMetric: Sendable, Hashable {
        /// In-flight requests divided by weight.
        case connections
        /// Time-decayed latency EWMA × (in-flight + 1) divided by weight.
        case latency
    }

    public var algorithm: BalancingAlgorithm
    /// Algorithm that makes the first assignment for `sticky`; sticky itself is replaced by round robin.
    public var stickyFallback: BalancingAlgorithm = .roundRobin
    /// Salt for every placement hash. Must be equal on all workers (and across restarts) to keep affinity.
    public var hashSeed: UInt64 = 0
    /// Ring points per unit of weight (consistent_hash).
    public var virtualNodes: Int = 150
    /// Bounded-load factor c (consistent_hash): no target takes more than ⌈c × its fair share⌉.
    public var loadFactor: Double = 1.25
    /// Maglev lookup-table size; rounded up to a prime. 65537 gives < 1 % imbalance up to ~650 targets.
    public var maglevTableSize: Int = 65537
    /// Candidates sampled by power_of_two_choices (2 or 3).
    public var choices: Int = 2
    public var loadMetric: LoadMetric = .connections
    /// This proxy's zone (the caller resolves SENTINEL_ZONE / ZONE / REGION).
    public var localZone: String = "default"
    /// Zones to try, in order, after the local zone.
    public var zonePriority: [String] = []
    public var localityFallback: LocalityFallback = .roundRobin
    /// Targets each proxy uses (deterministic_subset).
    public var subsetSize: Int = 10
    /// Identity that chooses the subset. Make it stable (host name, pod name) so a restart keeps the
    /// same subset and its warm connections, and distinct per proxy: proxies sharing an id (including
    /// the empty default) share one subset, concentrating their load on `subsetSize` targets.
    public var proxyID: String = ""
    /// Secret that signs sticky cookies. Anyone who knows it can forge affinity to any target.
    public var stickyKey: [UInt8] = []
    /// Peak-EWMA and latency-metric decay time (τ).
    public var ewmaDecay: Duration = .seconds(10)
    /// Peak-EWMA cost before the first observation.
    public var ewmaInitialLatency: Duration = .milliseconds(1)
    /// Peak-EWMA cost multiplier per in-flight request.
    public var ewmaLoadPenalty: Double = 1.5
    /// Latency recorded for a failed request when the observed one is shorter, so a target that fails
    /// fast (refused connections, instant 503s) does not look like the fastest target and attract traffic.
    public var failureLatency: Duration = .seconds(1)
    /// Tokens per second assumed for a target before any observation (least_tokens_queued).
    public var defaultTokensPerSecond: Double = 100

    public init(algorithm: BalancingAlgorithm = .roundRobin) {
        self.algorithm = algorithm
    }
}

/// What the caller knows about one request, for one pick.
///
/// Why it exists: hash keys, the sticky cookie, entropy and time all come from outside, so the
/// balancer is a pure function of (state, context, eligibility) and every decision replays in tests.
public struct PickContext: Sendable {
    /// Bytes the hashing algorithms hash: client IP bytes, a header value, a cookie or the path, as
    /// the route's `hash-key` says. nil makes hashing algorithms spread requests randomly.
    public var hashKey: [UInt8]?
    /// The sticky cookie's value as received, if any.
    public var stickyCookie: String?
    /// Fresh entropy for this pick (e.g. `SystemRandomNumberGenerator().next()`).
    public var random: UInt64
    /// Monotonic time since an arbitrary origin; used to decay latency estimates.
    public var now: Duration

    public init(hashKey: [UInt8]? = nil, stickyCookie: String? = nil, random: UInt64, now: Duration = .zero) {
        self.hashKey = hashKey
        self.stickyCookie = stickyCookie
        self.random = random
        self.now = now
    }

    /// Draws the entropy from `generator`.
    public init(
        hashKey: [UInt8]? = nil, stickyCookie: String? = nil, now: Duration = .zero,
        using generator: inout some RandomNumberGenerator
    ) {
        self.init(hashKey: hashKey, stickyCookie: stickyCookie, random: generator.next(), now: now)
    }
}

/// The outcome of a pick.
public struct Pick: Sendable, Hashable {
    /// Index into the balancer's targets.
    public var target: Int
    /// For sticky balancing: the cookie value to send with `Set-Cookie`, because the request had no
    /// valid cookie for an eligible target. nil means keep the client's cookie.
    public var setCookie: String?

    public init(target: Int, setCookie: String? = nil) {
        self.target = target
        self.setCookie = setCookie
    }
}
