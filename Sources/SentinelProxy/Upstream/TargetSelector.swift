import SentinelPolicy

/// Chooses the target of each proxied request on one event loop: one `LoadBalancer` per upstream,
/// filtered by the process-wide `UpstreamHealth` (active checks, passive ejection, breakers).
///
/// It exists so the balancers, which are lock-free values, live where they are used: one selector
/// per event loop (like `UpstreamPool`), touched only from that loop, so picking never takes a lock
/// for unmonitored upstreams and takes one short lock on `UpstreamHealth` for monitored ones.
/// Balancers are rebuilt when a reload changes an upstream (detected by `UpstreamRuntime.generation`,
/// and kept when the new generation's settings are equal, so least-connections counts survive).
///
/// How `ProxyExchange` uses it (all on the exchange's loop):
/// 1. `start`: `let ctx = TargetSelector.context(for: upstream, clientIP:, header:, cookie:, path:, random:, now:)`,
///    then `selector.pick(upstream, index: upstreamIndex, context: ctx, avoiding: tried, now:)`.
///    nil → answer 503 JSON at once ("no healthy target"), no connect attempt. `pick.setCookie` →
///    add `Set-Cookie: upstream.resilience.stickyCookie!.setCookieValue(value)` to the response.
/// 2. Connect failure / connect timeout / read timeout / request timeout / upstream closed before a
///    response / invalid response head / 5xx head → `finished(…, outcome: .failure(kind))`.
/// 3. Response complete (any status below 500) → `finished(…, outcome: .success, latency:)`.
/// 4. Admitted but never sent (client gone before connect, pool exhausted) → `cancelled(…)`.
/// Exactly one of `finished`/`cancelled` per successful `pick`.
final class TargetSelector {
    /// A class, so looking an entry up never copies the runtime or the balancer's tables.
    private final class Entry {
        var generation: UInt64
        var runtime: UpstreamRuntime
        var balancer: LoadBalancer

        init(generation: UInt64, runtime: UpstreamRuntime, balancer: LoadBalancer) {
            self.generation = generation
            self.runtime = runtime
            self.balancer = balancer
        }
    }

    let health: UpstreamHealth?
    let metrics: MetricsRegistry?
    private var entries = Entries()

    /// Entries by upstream index (a snapshot's upstream count bounds it): an array, not a
    /// dictionary, since several lookups happen per request.
    private struct Entries {
        var slots: [Entry?] = []
        subscript(i: Int) -> Entry? {
            get { slots.indices.contains(i) ? slots[i] : nil }
            set {
                if i >= slots.count { slots.append(contentsOf: repeatElement(nil, count: i - slots.count + 1)) }
                slots[i] = newValue
            }
        }
    }
    /// Round-robin cursor for requests of an older generation whose targets changed (reload window).
    private var staleCursor = 0

    init(health: UpstreamHealth? = nil, metrics: MetricsRegistry? = nil) {
        self.health = health
        self.metrics = metrics
    }

    /// Picks an eligible target of `upstream` (index `index` in its snapshot), preferring one not in
    /// `avoiding`; reserves its breaker slot and counts it as in flight. nil: no eligible target (503).
    func pick(_ ref: UpstreamRef, index: Int, context: PickContext, avoiding: TriedTargets, now: Duration) -> Pick? {
        let upstream = ref.runtime
        let count = upstream.targets.count
        guard count > 0 else { return nil }
        guard upstream.resilience.isMonitored, let health else {
            // No health state kept: every target is eligible, no lock taken, no allocation.
            let pick = choose(upstream, index: index, context: context, avoiding: avoiding) { _ in true }
            if let pick { started(upstream, index: index, target: pick.target) }
            return pick
        }
        var eligible = health.eligibility(upstream: upstream.id, addresses: upstream.targetAddresses, now: now)
        // A breaker may refuse the admission (another loop took the last half-open slot): re-pick without it.
        for _ in 0..<count {
            let mask = eligible
            guard let pick = choose(upstream, index: index, context: context, avoiding: avoiding, eligible: { mask[$0] }) else { return nil }
            guard health.admit(upstream: upstream.id, target: upstream.targetAddresses[pick.target], now: now) else {
                eligible[pick.target] = false
                continue
            }
            started(upstream, index: index, target: pick.target)
            return pick
        }
        return nil
    }

    private func started(_ upstream: UpstreamRuntime, index: Int, target: Int) {
        if matches(index, upstream) { entries[index]?.balancer.begin(target) }
        guard let metrics else { return }
        if target < upstream.metricSlots.count {
            metrics.upstreamSelected(slot: upstream.metricSlots[target])
        } else {
            // An upstream that no server stamped (unit tests).
            metrics.upstreamSelected(upstream: upstream.id, target: upstream.targetAddresses[target])
        }
    }

    /// Reports the end of a request to `target` (an index of `upstream.targets`) to the balancer
    /// (load, latency, adaptive weights) and to `UpstreamHealth` (breaker, passive health).
    func finished(_ ref: UpstreamRef, index: Int, target: Int, outcome: UpstreamHealth.Outcome, latency: Duration, now: Duration) {
        let upstream = ref.runtime
        guard upstream.targets.indices.contains(target) else { return }
        if matches(index, upstream) {
            entries[index]?.balancer.end(target, latency: latency, success: outcome == .success, now: now)
        }
        if upstream.resilience.isMonitored {
            health?.report(upstream: upstream.id, target: upstream.targetAddresses[target], outcome: outcome, latency: latency, now: now)
        }
    }

    /// Releases a pick whose request was never sent.
    func cancelled(_ ref: UpstreamRef, index: Int, target: Int) {
        let upstream = ref.runtime
        guard upstream.targets.indices.contains(target) else { return }
        if matches(index, upstream) {
            entries[index]?.balancer.end(target, latency: .zero, success: true, now: .zero)
        }
        if upstream.resilience.isMonitored { health?.cancel(upstream: upstream.id, target: upstream.targetAddresses[target]) }
    }

    /// Whether `entry`'s balancer has the same targets in the same order as `upstream`.
    private func matches(_ index: Int, _ upstream: UpstreamRuntime) -> Bool {
        guard let entry = entries[index] else { return false }
        return entry.generation == upstream.generation || entry.runtime == upstream
    }

    /// Requests in flight to `target` as this loop's balancer counts them.
    func inFlight(upstreamIndex: Int, target: Int) -> Int {
        entries[upstreamIndex]?.balancer.inFlight(target) ?? 0
    }

    private func choose(
        _ upstream: UpstreamRuntime, index: Int, context: PickContext, avoiding: TriedTargets, eligible: (Int) -> Bool
    ) -> Pick? {
        // Balancers are mutated in place through the dictionary (never copied out), so a pick copies no table.
        if entries[index]?.generation == upstream.generation {
            return entries[index]?.balancer.pick(context, avoiding: avoiding, eligible: eligible)
        }
        if let generation = entries[index]?.generation, generation > upstream.generation, entries[index]?.runtime != upstream {
            // A request that began before a reload that changed this upstream: plain round robin over
            // its own (old) target list, without disturbing the current balancer.
            let n = upstream.targets.count
            for avoid in [true, false] {
                for step in 0..<n {
                    let i = (staleCursor &+ step) % n
                    if eligible(i), !avoid || !avoiding.contains(i) {
                        staleCursor = i &+ 1
                        return Pick(target: i)
                    }
                }
            }
            return nil
        }
        if entries[index]?.runtime == upstream {
            // Same settings in a newer generation: keep the balancer and its learned load.
            let newest = max(entries[index]?.generation ?? 0, upstream.generation)
            entries[index]?.generation = newest
        } else {
            let targets = upstream.targets.map { BalancerTarget(address: $0.display, weight: $0.weight, zone: $0.zone) }
            entries[index] = Entry(
                generation: upstream.generation, runtime: upstream,
                balancer: LoadBalancer(targets: targets, options: upstream.resilience.balancer))
        }
        return entries[index]?.balancer.pick(context, avoiding: avoiding, eligible: eligible)
    }

    /// Builds the pick context of one request from its attributes, per the upstream's hash key and
    /// sticky cookie name. `header` and `cookie` look a value up by name (nil when absent).
    static func context(
        for ref: UpstreamRef, clientIP: [UInt8]?, header: (String) -> String?, cookie: (String) -> String?,
        path: String, random: UInt64, now: Duration
    ) -> PickContext {
        let upstream = ref.runtime
        var key: [UInt8]?
        switch upstream.resilience.balancer.algorithm {
        case .ipHash, .consistentHash, .maglev:
            switch upstream.resilience.hashKey {
            case .clientIP: key = clientIP
            case .header(let name): key = header(name).map { Array($0.utf8) }
            case .cookie(let name): key = cookie(name).map { Array($0.utf8) }
            case .path: key = Array(path.utf8)
            }
        default:
            key = nil
        }
        let sticky = upstream.resilience.stickyCookie.flatMap { cookie($0.name) }
        return PickContext(hashKey: key, stickyCookie: sticky, random: random, now: now)
    }
}

@available(*, unavailable)
extension TargetSelector: Sendable {}
