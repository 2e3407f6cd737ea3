import SentinelTLS
import Synchronization

/// TLS to upstreams, per upstream: handshakes (full or resumed), handshake failures by reason,
/// and which upstreams run with verification off (`insecure-skip-verify`).
///
/// Counted once per new upstream connection (never per request; a reused keep-alive connection
/// makes no handshake). Its own small lock, like `TLSMetrics`. Series exist only for upstreams
/// of the current snapshot (`configure`), so cardinality is bounded by the configuration.
final class UpstreamTLSMetrics: Sendable {
    struct Key: Hashable {
        let upstream: String
        /// "full", "resumed", or a `TLSError.Reason` raw value for a failure.
        let outcome: String
        let failed: Bool
    }

    private struct State {
        var counts: [Key: UInt64] = [:]
        /// Upstreams with `tls`, of the current snapshot (nil before the first `configure`: all counted).
        var upstreams: Set<String>?
        var verifyDisabled: Set<String> = []
    }

    private let state = Mutex(State())

    init() {}

    /// Adopts a snapshot's upstreams: the gauge of verification turned off, and the series of
    /// upstreams no longer configured with TLS dropped.
    func configure(_ upstreams: [UpstreamRuntime]) {
        var tls: Set<String> = []
        var disabled: Set<String> = []
        for u in upstreams {
            guard let t = u.tls else { continue }
            tls.insert(u.id)
            if t.verifyDisabled { disabled.insert(u.id) }
        }
        state.withLock { s in
            s.upstreams = tls
            s.verifyDisabled = disabled
            s.counts = s.counts.filter { tls.contains($0.key.upstream) }
        }
    }

    func handshake(upstream: String, resumed: Bool) {
        add(Key(upstream: upstream, outcome: resumed ? "resumed" : "full", failed: false))
    }

    func failure(upstream: String, reason: TLSError.Reason) {
        add(Key(upstream: upstream, outcome: reason.rawValue, failed: true))
    }

    private func add(_ key: Key) {
        state.withLock { s in
            guard s.upstreams?.contains(key.upstream) ?? true else { return }
            s.counts[key, default: 0] += 1
        }
    }

    func count(upstream: String, outcome: String, failed: Bool) -> UInt64 {
        state.withLock { $0.counts[Key(upstream: upstream, outcome: outcome, failed: failed)] ?? 0 }
    }

    func verifyDisabled(upstream: String) -> Bool { state.withLock { $0.verifyDisabled.contains(upstream) } }

    func render() -> String {
        let s = state.withLock { $0 }
        let all = s.counts.sorted { ($0.key.upstream, $0.key.outcome) < ($1.key.upstream, $1.key.outcome) }
        var out = "# HELP sentinel_upstream_tls_handshakes_total TLS handshakes with upstream targets, by upstream and kind (full or resumed).\n"
        out += "# TYPE sentinel_upstream_tls_handshakes_total counter\n"
        for (key, value) in all where !key.failed {
            out += "sentinel_upstream_tls_handshakes_total{upstream=\(MetricsRegistry.labelValue(key.upstream)),kind=\"\(key.outcome)\"} \(value)\n"
        }
        out += "# HELP sentinel_upstream_tls_handshake_failures_total TLS handshakes with upstream targets that failed, by upstream and reason.\n"
        out += "# TYPE sentinel_upstream_tls_handshake_failures_total counter\n"
        for (key, value) in all where key.failed {
            out += "sentinel_upstream_tls_handshake_failures_total{upstream=\(MetricsRegistry.labelValue(key.upstream)),reason=\"\(key.outcome)\"} \(value)\n"
        }
        out += "# HELP sentinel_upstream_tls_verify_disabled 1 for an upstream whose certificates are not verified (insecure-skip-verify).\n"
        out += "# TYPE sentinel_upstream_tls_verify_disabled gauge\n"
        for upstream in s.verifyDisabled.sorted() {
            out += "sentinel_upstream_tls_verify_disabled{upstream=\(MetricsRegistry.labelValue(upstream))} 1\n"
        }
        return out
    }
}
