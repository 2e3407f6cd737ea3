public import SentinelPolicy
public import SentinelObservability
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The data plane's Prometheus registry: request counters, a latency histogram and gauges.
///
/// It exists to expose the §7.1 core metrics without an external metrics stack, and to keep
/// cardinality bounded against hostile traffic: routes are labelled by matched route id (never
/// the raw path, "_none" when unmatched), methods outside the standard set become "OTHER",
/// and once `maxSeries` label sets exist new ones fold into route="_overflow".
public final class MetricsRegistry: Sendable {
    /// §7.1 latency buckets, in seconds.
    public static let durationBuckets: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    struct Histogram {
        var buckets = [UInt64](repeating: 0, count: MetricsRegistry.durationBuckets.count)
        var sum: Double = 0
        var count: UInt64 = 0

        /// In place: no copy of the bucket array per request.
        mutating func record(_ seconds: Double) {
            for i in 0..<MetricsRegistry.durationBuckets.count where seconds <= MetricsRegistry.durationBuckets[i] {
                buckets[i] &+= 1
            }
            sum += seconds
            count &+= 1
        }

        /// The histogram's series `<name>_bucket`, `_sum` and `_count` with `labels` (no braces).
        func render(_ name: String, labels: String) -> String {
            var out = ""
            for (i, bound) in MetricsRegistry.durationBuckets.enumerated() {
                out += "\(name)_bucket{\(labels),le=\"\(MetricsRegistry.number(bound))\"} \(buckets[i])\n"
            }
            out += "\(name)_bucket{\(labels),le=\"+Inf\"} \(count)\n"
            out += "\(name)_sum{\(labels)} \(MetricsRegistry.number(sum))\n"
            out += "\(name)_count{\(labels)} \(count)\n"
            return out
        }
    }
    /// The request series of one route label: a counter per (method, status) and a histogram per
    /// method. One dictionary lookup (the route) per finished request; methods are a fixed index and
    /// the few statuses a route answers are scanned.
    struct RouteSeries {
        var counters: [[(status: Int, count: UInt64)]] = Array(repeating: [], count: MetricsRegistry.methodLabels.count)
        var histograms: [Histogram?] = Array(repeating: nil, count: MetricsRegistry.methodLabels.count)

        enum Outcome { case counted, created, refused }

        /// Adds one to the (method, status) counter; creates it only when `mayCreate`.
        mutating func count(_ m: Int, _ status: Int, mayCreate: Bool) -> Outcome {
            for i in counters[m].indices where counters[m][i].status == status {
                counters[m][i].count &+= 1
                return .counted
            }
            guard mayCreate else { return .refused }
            counters[m].append((status, 1))
            return .created
        }

        /// Records a duration in the method's histogram; creates it only when `mayCreate`.
        mutating func time(_ m: Int, _ seconds: Double, mayCreate: Bool) -> Outcome {
            if histograms[m] != nil {
                histograms[m]!.record(seconds)
                return .counted
            }
            guard mayCreate else { return .refused }
            var h = Histogram()
            h.record(seconds)
            histograms[m] = h
            return .created
        }
    }
    /// Method labels by index (`methodIndex`); the last is "OTHER".
    static let methodLabels = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER"]

    struct State {
        var routes: [String: RouteSeries] = [:]
        /// Label sets of `sentinel_requests_total` and of the duration histogram.
        var counterSeries = 0
        var histogramSeries = 0
        var activeRequests = 0
        var openConnections = 0
        var rejectedConnections: UInt64 = 0
        var routeCacheEvictions: UInt64 = 0
        var upstreamFailures: [UpstreamFailureKey: UInt64] = [:]
        var retries: [String: UInt64] = [:]
        var targets = UpstreamTargetMetrics()
        /// Per-target request-path counters, by slot.
        var table = TargetCounterTable()
        /// Upstream ids of the configuration (from `replaceUpstreamTargets`); nil: not configured yet.
        var upstreams: Set<String>?
    }
    struct UpstreamFailureKey: Hashable { let upstream: String, reason: String }

    private let state = Mutex(State())
    /// Upper bound on label sets per metric family.
    public let maxSeries: Int

    /// The reload gauges of the process that applies reloads (`sentinel`); nil renders none
    /// (a `sentinel-stack` worker: its master exports them).
    public let reload: ReloadMetrics?
    /// Whether `render` appends this process's `process_*` families.
    public let processMetrics: Bool
    /// Handshakes and TLS failures of HTTPS listeners.
    let tls = TLSMetrics()
    /// Handshakes, failures and disabled verification of TLS to upstreams.
    let upstreamTLS = UpstreamTLSMetrics()
    /// Calls, failures, latency and breaker state per agent.
    public let agents = AgentMetrics()
    /// What the route filters decided (phase 3).
    let filters = FilterMetrics()
    /// The rate limiters of the snapshot in service, and their log of limited requests.
    public let rateLimits = RateLimitMetrics()
    /// Response compression (bytes in/out, skips) and guarded decompression verdicts.
    public let compression = CompressionMetrics()
    /// The geo filters' databases (loaded, reloads, failed lookups).
    public let geo = GeoMetrics()
    /// Connections on PROXY protocol listeners by what their header did.
    let proxyProtocol = ProxyProtocolMetrics()

    public init(maxSeries: Int = 10_000, reload: ReloadMetrics? = nil, processMetrics: Bool = true) {
        self.maxSeries = maxSeries
        self.reload = reload
        self.processMetrics = processMetrics
    }

    public static func methodLabel(_ method: String) -> String { methodLabels[methodIndex(method)] }

    /// Index of `method`'s label in `methodLabels`.
    static func methodIndex(_ method: String) -> Int {
        // Parsed methods are case-sensitive tokens; the standard ones arrive upper case.
        switch method {
        case "GET": return 0
        case "HEAD": return 1
        case "POST": return 2
        case "PUT": return 3
        case "DELETE": return 4
        case "CONNECT": return 5
        case "OPTIONS": return 6
        case "TRACE": return 7
        case "PATCH": return 8
        default:
            let upper = method.uppercased()
            return upper == method ? 9 : methodIndex(upper)
        }
    }

    /// Records one finished request.
    public func recordRequest(route: String?, method: String, status: Int, durationSeconds: Double) {
        record(route: route, method: method, status: status, durationSeconds: durationSeconds, finished: false)
    }

    /// Records one finished request and ends it in the active-request gauge (one lock, not two).
    public func recordFinishedRequest(route: String?, method: String, status: Int, durationSeconds: Double) {
        record(route: route, method: method, status: status, durationSeconds: durationSeconds, finished: true)
    }

    /// Records a request; `finished`: it also leaves the active-requests gauge. Also records the
    /// last attempt's per-target sample, under the same lock.
    func recordRequest(
        route: String?, method: String, status: Int, durationSeconds: Double, finished: Bool, target: TargetSample?
    ) {
        record(route: route, method: method, status: status, durationSeconds: durationSeconds, finished: finished, target: target)
    }

    private func record(
        route: String?, method: String, status: Int, durationSeconds: Double, finished: Bool, target: TargetSample? = nil
    ) {
        let m = Self.methodIndex(method)
        let route = route ?? "_none"
        state.withLock { s in
            if finished { s.activeRequests -= 1 }
            if let target { s.table.record(target) }
            // New label sets fold into route="_overflow" once `maxSeries` exist.
            let counterRoom = s.counterSeries < maxSeries
            let histogramRoom = s.histogramSeries < maxSeries
            var counted = RouteSeries.Outcome.refused
            var timed = RouteSeries.Outcome.refused
            if let i = s.routes.index(forKey: route) {
                counted = s.routes.values[i].count(m, status, mayCreate: counterRoom)
                timed = s.routes.values[i].time(m, durationSeconds, mayCreate: histogramRoom)
            } else if counterRoom || histogramRoom {
                var series = RouteSeries()
                counted = series.count(m, status, mayCreate: counterRoom)
                timed = series.time(m, durationSeconds, mayCreate: histogramRoom)
                s.routes[route] = series
            }
            if counted == .refused { counted = s.routes["_overflow", default: RouteSeries()].count(m, status, mayCreate: true) }
            if timed == .refused { timed = s.routes["_overflow", default: RouteSeries()].time(m, durationSeconds, mayCreate: true) }
            if counted == .created { s.counterSeries += 1 }
            if timed == .created { s.histogramSeries += 1 }
        }
    }

    public func requestStarted() { state.withLock { $0.activeRequests += 1 } }
    public func requestFinished() { state.withLock { $0.activeRequests -= 1 } }
    public func connectionOpened() { state.withLock { $0.openConnections += 1 } }
    public func connectionClosed() { state.withLock { $0.openConnections -= 1 } }
    public func connectionRejected() { state.withLock { $0.rejectedConnections += 1 } }
    public func routeCacheEvicted(_ n: Int) { state.withLock { $0.routeCacheEvictions += UInt64(n) } }

    /// A request was replayed on another attempt.
    public func upstreamRetry(upstream: String) {
        state.withLock { s in
            guard s.upstreams?.contains(upstream) ?? true else { return }
            if s.retries[upstream] != nil || s.retries.count < maxSeries { s.retries[upstream, default: 0] += 1 }
        }
    }

    /// An exchange failed because of its upstream (or Sentinel); `reason`: the `ProxyError` kind.
    func upstreamFailure(upstream: String, kind: ProxyError.Kind) {
        let reason = kind.rawValue
        state.withLock { s in
            guard s.upstreams?.contains(upstream) ?? true else { return }
            let key = UpstreamFailureKey(upstream: upstream, reason: reason)
            if s.upstreamFailures[key] != nil || s.upstreamFailures.count < maxSeries { s.upstreamFailures[key, default: 0] += 1 }
        }
    }

    /// Adopts the configured upstream targets after a snapshot swap: the series of targets and
    /// upstreams no longer configured are dropped (per-target and per-upstream families alike), and
    /// none are recorded for them afterwards; counters of the remaining ones keep counting.
    public func replaceUpstreamTargets(_ keep: [UpstreamTargetKey]) {
        let upstreams = Set(keep.map(\.upstream))
        state.withLock { s in
            s.targets.retain(Set(keep))
            s.table.assign(Set(keep))
            s.upstreams = upstreams
            s.retries = s.retries.filter { upstreams.contains($0.key) }
            s.upstreamFailures = s.upstreamFailures.filter { upstreams.contains($0.key.upstream) }
        }
    }

    public func setUpstreamTarget(upstream: String, target: String, healthy: Bool, breaker: CircuitBreaker.State) {
        let key = UpstreamTargetKey(upstream: upstream, target: target)
        state.withLock { s in
            guard s.targets.accepts(key) else { return }
            s.targets.healthy[key] = healthy
            s.targets.breaker[key] = breaker
        }
    }

    public func breakerTripped(upstream: String, target: String) {
        let key = UpstreamTargetKey(upstream: upstream, target: target)
        state.withLock { s in
            if s.targets.accepts(key) { s.targets.trips[key, default: 0] += 1 }
        }
    }

    public func upstreamEjected(upstream: String, target: String) {
        let key = UpstreamTargetKey(upstream: upstream, target: target)
        state.withLock { s in
            if s.targets.accepts(key) { s.targets.ejections[key, default: 0] += 1 }
        }
    }

    /// A balancer chose `target` (counted only for configured targets, so cardinality stays bounded).
    public func upstreamSelected(upstream: String, target: String) {
        let key = UpstreamTargetKey(upstream: upstream, target: target)
        state.withLock { s in
            if let i = s.table.live(s.table.slot(key)) { s.table.counters[i].selections &+= 1 }
        }
    }

    /// A balancer chose the target of `slot` (the request path: no lookup by name).
    func upstreamSelected(slot: MetricSlot) {
        state.withLock { s in
            if let i = s.table.live(slot) { s.table.counters[i].selections &+= 1 }
        }
    }

    /// The counter slot of a configured target (`.none` when it is not configured).
    func slot(upstream: String, target: String) -> MetricSlot {
        state.withLock { $0.table.slot(UpstreamTargetKey(upstream: upstream, target: target)) }
    }

    /// A connection to a target could not be opened (retried or not); marks the target failing.
    func upstreamConnectError(slot: MetricSlot, reason: ConnectErrorReason) {
        state.withLock { s in
            guard let i = s.table.live(slot) else { return }
            s.table.counters[i].connectErrors[reason.rawValue] &+= 1
            s.table.counters[i].connectFailing = true
        }
    }

    /// An exchange with a connected target failed before its response ended.
    func upstreamResponseError(slot: MetricSlot, reason: ResponseErrorReason) {
        state.withLock { s in
            if let i = s.table.live(slot) { s.table.counters[i].responseErrors[reason.rawValue] &+= 1 }
        }
    }

    /// An attempt that did not finish the request (retried): its bytes and first-byte time.
    func recordAttempt(_ sample: TargetSample) {
        state.withLock { $0.table.record(sample) }
    }

    public var activeRequests: Int { state.withLock { $0.activeRequests } }
    public var openConnections: Int { state.withLock { $0.openConnections } }
    public var rejectedConnections: UInt64 { state.withLock { $0.rejectedConnections } }

    /// Prometheus text exposition format 0.0.4, families and series in a stable order.
    public func render(version: String) -> String {
        let s = state.withLock { $0 }
        var out = ""
        out += "# HELP sentinel_up Whether the proxy is up.\n# TYPE sentinel_up gauge\nsentinel_up 1\n"
        out += "# HELP sentinel_build_info Build information.\n# TYPE sentinel_build_info gauge\n"
        out += "sentinel_build_info{version=\(Self.labelValue(version))} 1\n"
        out += "# HELP sentinel_requests_total Requests handled, by matched route, method and status.\n"
        out += "# TYPE sentinel_requests_total counter\n"
        var counters: [(route: String, method: String, status: Int, value: UInt64)] = []
        var histograms: [(route: String, method: String, histogram: Histogram)] = []
        for (route, series) in s.routes {
            for (m, label) in Self.methodLabels.enumerated() {
                for c in series.counters[m] { counters.append((route, label, c.status, c.count)) }
                if let h = series.histograms[m] { histograms.append((route, label, h)) }
            }
        }
        counters.sort { a, b in (a.route, a.method, a.status) < (b.route, b.method, b.status) }
        for c in counters {
            out += "sentinel_requests_total{route=\(Self.labelValue(c.route)),method=\(Self.labelValue(c.method)),"
            out += "status=\"\(c.status)\"} \(c.value)\n"
        }
        out += "# HELP sentinel_request_duration_seconds Request duration, by matched route and method.\n"
        out += "# TYPE sentinel_request_duration_seconds histogram\n"
        histograms.sort { a, b in (a.route, a.method) < (b.route, b.method) }
        for entry in histograms {
            out += entry.histogram.render(
                "sentinel_request_duration_seconds", labels: "route=\(Self.labelValue(entry.route)),method=\(Self.labelValue(entry.method))")
        }
        out += "# HELP sentinel_active_requests Requests in progress.\n# TYPE sentinel_active_requests gauge\n"
        out += "sentinel_active_requests \(s.activeRequests)\n"
        out += "# HELP sentinel_open_connections Open client connections.\n# TYPE sentinel_open_connections gauge\n"
        out += "sentinel_open_connections \(s.openConnections)\n"
        out += "# HELP sentinel_connections_rejected_total Connections closed at accept because of max-connections.\n"
        out += "# TYPE sentinel_connections_rejected_total counter\n"
        out += "sentinel_connections_rejected_total \(s.rejectedConnections)\n"
        out += "# HELP sentinel_route_cache_evictions_total Route-match cache entries evicted.\n"
        out += "# TYPE sentinel_route_cache_evictions_total counter\n"
        out += "sentinel_route_cache_evictions_total \(s.routeCacheEvictions)\n"
        out += "# HELP sentinel_upstream_retries_total Requests replayed on another attempt, by upstream.\n"
        out += "# TYPE sentinel_upstream_retries_total counter\n"
        for (upstream, value) in s.retries.sorted(by: { $0.key < $1.key }) {
            out += "sentinel_upstream_retries_total{upstream=\(Self.labelValue(upstream))} \(value)\n"
        }
        out += "# HELP sentinel_upstream_failures_total Exchanges that failed because of their upstream, by kind.\n"
        out += "# TYPE sentinel_upstream_failures_total counter\n"
        for (key, value) in s.upstreamFailures.sorted(by: { ($0.key.upstream, $0.key.reason) < ($1.key.upstream, $1.key.reason) }) {
            out += "sentinel_upstream_failures_total{upstream=\(Self.labelValue(key.upstream)),reason=\(Self.labelValue(key.reason))} \(value)\n"
        }
        var failing = Set<UpstreamTargetKey>()
        for (key, i) in s.table.index where s.table.counters[i].connectFailing { failing.insert(key) }
        out += s.targets.render(failing: failing)
        out += "# HELP sentinel_upstream_selections_total Requests the balancer sent to each target.\n"
        out += "# TYPE sentinel_upstream_selections_total counter\n"
        let slots = s.table.sortedSlots
        for (key, i) in slots where s.table.counters[i].selections > 0 {
            out += "sentinel_upstream_selections_total{upstream=\(Self.labelValue(key.upstream)),target=\(Self.labelValue(key.target))} "
            out += "\(s.table.counters[i].selections)\n"
        }
        out += s.table.render()
        out += tls.render(now: Int64(Glibc.time(nil)))
        out += upstreamTLS.render()
        out += agents.render()
        out += filters.render()
        out += compression.render()
        out += rateLimits.render()
        out += geo.render()
        out += proxyProtocol.render()
        if let reload { out += reload.render() }
        if processMetrics, let p = ProcessMetrics.current() { out += p.render() }
        return out
    }

    /// A quoted label value with `\`, `"` and newline escaped as the exposition format requires.
    static func labelValue(_ value: String) -> String {
        var out = "\""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out + "\""
    }

    static func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}

