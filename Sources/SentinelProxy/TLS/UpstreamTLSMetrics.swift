import SentinelTLS
import Synchronization

/// TLS to upstreams, per upstream: handshakes (full or resumed), handshake failures by reason,
/// and which upstreams run with verification off (`insecure-skip-verify`).
///
/// Counted once per new upstream connection (never per request; a reused keep-alive connection
/// makes no handshake). Its own small lock, like `TLSMetrics`. Series exist only for upstreams
/// of the current snapshot (`configure`), so cardinality is bounded by the configuration.
final class UpstreamTLSMetrics: Sendable {
    private struct State {
        var tally = HandshakeTally()
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
            s.tally.retain { tls.contains($0) }
        }
    }

    func handshake(upstream: String, resumed: Bool) {
        state.withLock { s in
            if s.upstreams?.contains(upstream) ?? true { s.tally.handshake(upstream, resumed: resumed) }
        }
    }

    func failure(upstream: String, reason: TLSError.Reason) {
        state.withLock { s in
            if s.upstreams?.contains(upstream) ?? true { s.tally.failure(upstream, reason: reason) }
        }
    }

    func count(upstream: String, outcome: String, failed: Bool) -> UInt64 {
        state.withLock { $0.tally.count(upstream, outcome: outcome, failed: failed) }
    }

    func verifyDisabled(upstream: String) -> Bool { state.withLock { $0.verifyDisabled.contains(upstream) } }

    private static let names = HandshakeTally.Names(
        completed: "sentinel_upstream_tls_handshakes_total", failed: "sentinel_upstream_tls_handshake_failures_total", label: "upstream",
        completedHelp: "TLS handshakes with upstream targets, by upstream and kind (full or resumed).",
        failedHelp: "TLS handshakes with upstream targets that failed, by upstream and reason.")

    func render() -> String {
        let s = state.withLock { $0 }
        var out = s.tally.render(Self.names)
        out += "# HELP sentinel_upstream_tls_verify_disabled 1 for an upstream whose certificates are not verified (insecure-skip-verify).\n"
        out += "# TYPE sentinel_upstream_tls_verify_disabled gauge\n"
        for upstream in s.verifyDisabled.sorted() {
            out += "sentinel_upstream_tls_verify_disabled{upstream=\(MetricsRegistry.labelValue(upstream))} 1\n"
        }
        return out
    }
}
