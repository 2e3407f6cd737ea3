public import Logging
public import SentinelPolicy
import SentinelObservability
import Synchronization

/// The process-wide health of every upstream target: active-check verdict, passive (outlier)
/// ejection and circuit breaker, keyed by (upstream id, target address).
///
/// It exists because the three event loops that send traffic, the health checker's loop and the
/// `upstreams` builtin must all see one verdict per target: a breaker opened by failures on one loop
/// must keep the other loops away too. Keying by id and address (not by index) lets state survive a
/// reload for targets that still exist while removed ones are dropped. Time is always passed in
/// (`now`, monotonic), so every transition is testable with a manual clock. Each transition is
/// logged once through `logger` (a JSON line) and counted in `metrics`, outside the lock.
public final class UpstreamHealth: Sendable {
    /// How one proxied request to a target ended.
    public enum Outcome: Sendable, Equatable {
        case success
        case failure(FailureKind)
    }

    /// Why a request counted as a failure (logged with breaker and ejection transitions).
    public enum FailureKind: String, Sendable, Equatable {
        case connectFailed = "connect_failed"
        case connectTimeout = "connect_timeout"
        case readTimeout = "read_timeout"
        case serverError = "server_error"
        case closed
        case invalidResponse = "invalid_response"
    }

    /// One target as the `upstreams` builtin and the metrics show it.
    public struct TargetStatus: Sendable, Equatable {
        public var address: String
        public var weight: Int
        public var health: ActiveHealthState.Status
        public var breaker: CircuitBreaker.State
        /// Ejected by passive health at the time of the snapshot.
        public var ejected: Bool
        /// Admitted requests not yet reported; nil when the upstream keeps no health state.
        public var inFlight: Int?
        /// Why the latest active probe failed; nil after a success, before the first probe, and in a
        /// worker that receives its verdicts from another process's prober.
        public var probeError: String? = nil
    }

    public struct UpstreamStatus: Sendable, Equatable {
        public var id: String
        public var targets: [TargetStatus]
    }

    struct TargetState: Sendable {
        var weight: Int
        var active: ActiveHealthState?
        var passive: PassiveHealth?
        var breaker: CircuitBreaker?
        var inFlight = 0
        var probeError: String?

        func isEligible(now: Duration) -> Bool {
            (active?.isEligible ?? true) && (passive?.isEligible(now: now) ?? true) && (breaker?.wouldAllow(now: now) ?? true)
        }

        /// The `sentinel_upstream_target_healthy` value: probes do not say unhealthy and not ejected.
        func healthy(now: Duration) -> Bool {
            (active?.isEligible ?? true) && (passive?.isEligible(now: now) ?? true)
        }
    }

    struct Entry: Sendable {
        var addresses: [String]
        var index: [String: Int]
        var targets: [TargetState]
        var monitored: Bool
    }

    struct Event: Sendable {
        var upstream: String
        var target: String
        var event: String
        var level: String
        var fields: [(String, Logger.MetadataValue)]
        var healthy: Bool
        var breaker: CircuitBreaker.State
        var tripped = false
        var ejected = false
    }

    private struct State: Sendable {
        var entries: [String: Entry] = [:]
        var order: [String] = []
    }

    private let state = Mutex(State())
    private let metrics: MetricsRegistry?
    let logger: Logger?

    /// - Parameter logger: receives one event per transition; nil logs nothing.
    public init(metrics: MetricsRegistry? = nil, logger: Logger? = nil) {
        self.metrics = metrics
        self.logger = logger
    }

    /// - Parameter log: receives each transition as its JSON line (no newline), as the process's
    ///   logger would write it (role "proxy").
    public convenience init(metrics: MetricsRegistry? = nil, log: @escaping @Sendable (String) -> Void) {
        self.init(metrics: metrics, logger: .sentinel(role: "proxy", output: .lines(log)))
    }

    /// Adopts the upstreams of a new snapshot: targets that still exist keep their state (a component
    /// whose settings changed starts afresh), new ones start unknown/closed, removed ones are dropped.
    public func configure(_ upstreams: [UpstreamRuntime], now: Duration) {
        let gauges = state.withLock { s -> [(String, String, Bool, CircuitBreaker.State)] in
            var entries: [String: Entry] = [:]
            var gauges: [(String, String, Bool, CircuitBreaker.State)] = []
            for u in upstreams {
                let r = u.resilience
                let old = s.entries[u.id]
                var targets: [TargetState] = []
                for (i, address) in u.targetAddresses.enumerated() {
                    let previous = old.flatMap { e in e.index[address].map { e.targets[$0] } }
                    var t = TargetState(weight: u.targets[i].weight)
                    if let hc = r.healthCheck {
                        let fresh = ActiveHealthState(healthyThreshold: hc.healthyThreshold, unhealthyThreshold: hc.unhealthyThreshold)
                        if let a = previous?.active, a.healthyThreshold == fresh.healthyThreshold,
                            a.unhealthyThreshold == fresh.unhealthyThreshold
                        {
                            t.active = a
                            t.probeError = previous?.probeError
                        } else {
                            t.active = fresh
                        }
                    }
                    if let c = r.circuitBreaker {
                        t.breaker = previous?.breaker.flatMap { $0.configuration == c ? $0 : nil } ?? CircuitBreaker(configuration: c)
                    }
                    if let c = r.passiveHealth {
                        t.passive = previous?.passive.flatMap { $0.configuration == c ? $0 : nil } ?? PassiveHealth(configuration: c)
                    }
                    t.inFlight = previous?.inFlight ?? 0
                    targets.append(t)
                    gauges.append((u.id, address, t.healthy(now: now), t.breaker?.state ?? .closed))
                }
                let index = Dictionary(u.targetAddresses.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
                entries[u.id] = Entry(addresses: u.targetAddresses, index: index, targets: targets, monitored: r.isMonitored)
            }
            s.entries = entries
            s.order = upstreams.map(\.id)
            return gauges
        }
        metrics?.replaceUpstreamTargets(gauges.map { .init(upstream: $0.0, target: $0.1) })
        for (u, t, healthy, breaker) in gauges { metrics?.setUpstreamTarget(upstream: u, target: t, healthy: healthy, breaker: breaker) }
        adoptTLS(upstreams)
    }

    /// Upstream TLS of the applied snapshot: the metric series of its upstreams, and one warning
    /// per upstream that does not verify certificates (`insecure-skip-verify`), each time a
    /// snapshot is applied, so the setting is never silent in a running process.
    private func adoptTLS(_ upstreams: [UpstreamRuntime]) {
        metrics?.upstreamTLS.configure(upstreams)
        guard let logger else { return }
        for u in upstreams where u.tls?.verifyDisabled == true {
            logger.emit(
                "warn", "upstream_tls_verify_disabled",
                ["upstream": .string(u.id), "detail": "insecure-skip-verify: the certificates of this upstream's targets are not verified"])
        }
    }

    /// Eligibility of each of `addresses` (in that order) for one pick, read under one lock so the
    /// balancer sees a consistent answer. Unknown targets are eligible. No side effects.
    public func eligibility(upstream: String, addresses: [String], now: Duration) -> [Bool] {
        state.withLock { s in
            guard let e = s.entries[upstream] else { return Array(repeating: true, count: addresses.count) }
            if e.addresses == addresses { return e.targets.map { $0.isEligible(now: now) } }
            return addresses.map { a in e.index[a].map { e.targets[$0].isEligible(now: now) } ?? true }
        }
    }

    /// Whether `target` may receive a request now (health, ejection, breaker). No side effects.
    public func isEligible(upstream: String, target: String, now: Duration) -> Bool {
        state.withLock { s in
            guard let e = s.entries[upstream], let i = e.index[target] else { return true }
            return e.targets[i].isEligible(now: now)
        }
    }

    /// Reserves the breaker for one request to a picked target (a half-open trial slot, or the
    /// open → half-open move). False means pick another target. Every `true` must be followed by
    /// exactly one `report` or `cancel`.
    public func admit(upstream: String, target: String, now: Duration) -> Bool {
        var event: Event?
        let allowed = state.withLock { s -> Bool in
            guard var e = s.entries[upstream], let i = e.index[target] else { return true }
            s.entries[upstream] = nil  // keep the entry uniquely referenced while mutating
            defer { s.entries[upstream] = e }
            var allowed = true
            if var b = e.targets[i].breaker {
                let admission = b.allow(now: now)
                e.targets[i].breaker = b
                allowed = admission.allowed
                if let t = admission.transition {
                    // Recovery path of §5.7: a breaker going half-open readmits an ejected target.
                    if t.to == .halfOpen, var p = e.targets[i].passive, p.readmit() != nil { e.targets[i].passive = p }
                    event = breakerEvent(upstream, target, t, e.targets[i], now: now)
                }
            }
            if allowed { e.targets[i].inFlight += 1 }
            return allowed
        }
        if let event { emit([event]) }
        return allowed
    }

    /// Releases an admission whose request was never sent (client gone, pool exhausted).
    public func cancel(upstream: String, target: String) {
        state.withLock { s in
            guard var e = s.entries[upstream], let i = e.index[target] else { return }
            s.entries[upstream] = nil
            e.targets[i].breaker?.cancel()
            e.targets[i].inFlight = max(0, e.targets[i].inFlight - 1)
            s.entries[upstream] = e
        }
    }

    /// Feeds one finished request (admitted earlier) to the breaker and passive health.
    public func report(upstream: String, target: String, outcome: Outcome, latency: Duration, now: Duration) {
        let events = state.withLock { s -> [Event] in
            guard var e = s.entries[upstream], let i = e.index[target] else { return [] }
            s.entries[upstream] = nil
            defer { s.entries[upstream] = e }
            var events: [Event] = []
            var t = e.targets[i]
            t.inFlight = max(0, t.inFlight - 1)
            let success = outcome == .success
            if var b = t.breaker {
                let transition = success ? b.recordSuccess() : b.recordFailure(now: now)
                t.breaker = b
                if let transition {
                    var ev = breakerEvent(upstream, target, transition, t, now: now)
                    if case .failure(let kind) = outcome { ev.fields.append(("reason", .string(kind.rawValue))) }
                    events.append(ev)
                }
            }
            if var p = t.passive {
                let transition = p.record(success: success, now: now)
                t.passive = p
                if let transition { events.append(passiveEvent(upstream, target, transition, t, now: now)) }
            }
            e.targets[i] = t
            return events
        }
        emit(events)
    }

    /// Feeds one active probe result. A success also readmits a passively ejected target (§5.7).
    /// `reason` says why a failed probe failed (logged with a transition, shown by `snapshot`).
    /// `relayed`: the verdict of another process's prober (a `sentinel-stack` worker other than
    /// the prober): applied and counted, but its transitions are not logged, since the prober
    /// logs each one once for the whole instance.
    public func probeResult(upstream: String, target: String, success: Bool, reason: String? = nil, relayed: Bool = false, now: Duration) {
        let events = state.withLock { s -> [Event] in
            guard var e = s.entries[upstream], let i = e.index[target], var active = e.targets[i].active else { return [] }
            s.entries[upstream] = nil
            defer { s.entries[upstream] = e }
            var events: [Event] = []
            let transition = active.record(success: success)
            e.targets[i].active = active
            e.targets[i].probeError = success ? nil : (reason ?? "probe failed")
            if success, var p = e.targets[i].passive, let readmitted = p.readmit() {
                e.targets[i].passive = p
                events.append(passiveEvent(upstream, target, readmitted, e.targets[i], now: now))
            }
            if let transition {
                let t = e.targets[i]
                var fields: [(String, Logger.MetadataValue)] = [("from", .string(transition.from.rawValue)), ("to", .string(transition.to.rawValue))]
                if !success, let reason { fields.append(("reason", .string(reason))) }
                events.append(
                    Event(
                        upstream: upstream, target: target, event: "upstream_health_changed",
                        level: transition.to == .unhealthy ? "warn" : "info",
                        fields: fields,
                        healthy: t.healthy(now: now), breaker: t.breaker?.state ?? .closed))
            }
            return events
        }
        emit(events, log: !relayed)
    }

    /// Every upstream and target in configuration order, for the `upstreams` builtin.
    public func snapshot(now: Duration) -> [UpstreamStatus] {
        state.withLock { s in
            s.order.compactMap { id in
                guard let e = s.entries[id] else { return nil }
                return UpstreamStatus(
                    id: id,
                    targets: e.targets.enumerated().map { i, t in
                        TargetStatus(
                            address: e.addresses[i], weight: t.weight, health: t.active?.status ?? .unknown,
                            breaker: t.breaker?.state ?? .closed, ejected: !(t.passive?.isEligible(now: now) ?? true),
                            inFlight: e.monitored ? t.inFlight : nil, probeError: t.probeError)
                    })
            }
        }
    }

    private func breakerEvent(
        _ upstream: String, _ target: String, _ t: CircuitBreaker.Transition, _ state: TargetState, now: Duration
    ) -> Event {
        Event(
            upstream: upstream, target: target, event: "circuit_breaker_changed", level: t.to == .open ? "warn" : "info",
            fields: [("from", .string(t.from.rawValue)), ("to", .string(t.to.rawValue))], healthy: state.healthy(now: now), breaker: t.to,
            tripped: t.to == .open)
    }

    private func passiveEvent(
        _ upstream: String, _ target: String, _ t: PassiveHealth.Transition, _ state: TargetState, now: Duration
    ) -> Event {
        var ev = Event(
            upstream: upstream, target: target, event: "", level: "info", fields: [], healthy: state.healthy(now: now),
            breaker: state.breaker?.state ?? .closed)
        switch t {
        case .ejected(let until, let rate):
            ev.event = "upstream_target_ejected"
            ev.level = "warn"
            ev.ejected = true
            let secs = Double((until - now).components.seconds) + Double((until - now).components.attoseconds) / 1e18
            ev.fields = [("failure_rate", .double(rate)), ("ejected_for_secs", .double(secs))]
        case .readmitted: ev.event = "upstream_target_readmitted"
        case .recovered: ev.event = "upstream_target_recovered"
        }
        return ev
    }

    private func emit(_ events: [Event], log: Bool = true) {
        for ev in events {
            if log, let logger {
                var metadata: Logger.Metadata = ["upstream": .string(ev.upstream), "target": .string(ev.target)]
                for (k, v) in ev.fields { metadata[k] = v }
                logger.emit(ev.level, ev.event, metadata)
            }
            guard let metrics else { continue }
            metrics.setUpstreamTarget(upstream: ev.upstream, target: ev.target, healthy: ev.healthy, breaker: ev.breaker)
            if ev.tripped { metrics.breakerTripped(upstream: ev.upstream, target: ev.target) }
            if ev.ejected { metrics.upstreamEjected(upstream: ev.upstream, target: ev.target) }
        }
    }
}
