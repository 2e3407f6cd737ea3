import SentinelPolicy

/// The label pair of every per-target upstream series.
public struct UpstreamTargetKey: Hashable, Sendable {
    public var upstream: String
    public var target: String

    public init(upstream: String, target: String) {
        self.upstream = upstream
        self.target = target
    }
}

/// Per-target upstream series (§5.7, §5.8): health and breaker gauges, trip and ejection
/// counters (the request path's per-target counters are in `TargetCounterTable`).
///
/// It exists apart from `MetricsRegistry` to keep that file small; the registry owns one inside its
/// lock. Cardinality is bounded by the configuration: `UpstreamHealth.configure` registers the
/// configured targets and drops removed ones, and once a configuration is registered nothing is
/// recorded for a target outside it (a late event of a removed target, an exchange finishing on the
/// previous snapshot), so a series that a reload retired never comes back.
struct UpstreamTargetMetrics: Sendable {
    /// The configured targets; nil until the first configuration (then everything is recorded).
    var registered: Set<UpstreamTargetKey>?
    var healthy: [UpstreamTargetKey: Bool] = [:]
    var breaker: [UpstreamTargetKey: CircuitBreaker.State] = [:]
    var trips: [UpstreamTargetKey: UInt64] = [:]
    var ejections: [UpstreamTargetKey: UInt64] = [:]

    /// Whether series of `key` may be recorded.
    func accepts(_ key: UpstreamTargetKey) -> Bool { registered?.contains(key) ?? true }

    /// Registers `keep` as the configured targets; drops every series of other targets. Counters of
    /// targets in `keep` carry on (monotonic across reloads).
    mutating func retain(_ keep: Set<UpstreamTargetKey>) {
        registered = keep
        healthy = healthy.filter { keep.contains($0.key) }
        breaker = breaker.filter { keep.contains($0.key) }
        trips = trips.filter { keep.contains($0.key) }
        ejections = ejections.filter { keep.contains($0.key) }
    }

    static func stateValue(_ s: CircuitBreaker.State) -> Int {
        switch s {
        case .closed: return 0
        case .open: return 1
        case .halfOpen: return 2
        }
    }

    /// `failing`: targets whose latest connection attempt failed (shown unhealthy).
    func render(failing: Set<UpstreamTargetKey> = []) -> String {
        var out = ""
        func family<V>(_ name: String, _ type: String, _ help: String, _ values: [UpstreamTargetKey: V], _ show: (V) -> String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (key, value) in values.sorted(by: { ($0.key.upstream, $0.key.target) < ($1.key.upstream, $1.key.target) }) {
                out += "\(name){upstream=\(MetricsRegistry.labelValue(key.upstream)),target=\(MetricsRegistry.labelValue(key.target))} \(show(value))\n"
            }
        }
        var shown = healthy
        for key in failing where shown[key] != nil { shown[key] = false }
        family(
            "sentinel_upstream_target_healthy", "gauge",
            "0 when active checks say unhealthy, passive health ejected the target, or its latest connection attempt failed.",
            shown) { $0 ? "1" : "0" }
        family("sentinel_circuit_breaker_state", "gauge", "Circuit breaker state per target: 0 closed, 1 open, 2 half-open.", breaker) { String(Self.stateValue($0)) }
        family("sentinel_circuit_breaker_trips_total", "counter", "Times a target's circuit breaker opened.", trips) { String($0) }
        family("sentinel_upstream_ejections_total", "counter", "Times passive health ejected a target.", ejections) { String($0) }
        return out
    }
}
