import SentinelTLS
import Synchronization

/// TLS handshake counters of the process: completed handshakes (full or resumed) and failures
/// by reason, per listener. Counted once per handshake (never per request).
///
/// It exists apart from `MetricsRegistry`'s request state so a handshake takes its own small
/// lock, not the one every finished request takes.
final class TLSMetrics: Sendable {
    struct Key: Hashable {
        let listener: String
        /// "full", "resumed", or a `TLSError.Reason` raw value for a failure.
        let outcome: String
        let failed: Bool
    }

    private let counts = Mutex<[Key: UInt64]>([:])

    func handshake(listener: String, resumed: Bool) {
        let key = Key(listener: listener, outcome: resumed ? "resumed" : "full", failed: false)
        counts.withLock { $0[key, default: 0] += 1 }
    }

    func failure(listener: String, reason: TLSError.Reason) {
        let key = Key(listener: listener, outcome: reason.rawValue, failed: true)
        counts.withLock { $0[key, default: 0] += 1 }
    }

    func count(listener: String, outcome: String, failed: Bool) -> UInt64 {
        counts.withLock { $0[Key(listener: listener, outcome: outcome, failed: failed)] ?? 0 }
    }

    func render() -> String {
        let all = counts.withLock { $0 }.sorted { ($0.key.listener, $0.key.outcome) < ($1.key.listener, $1.key.outcome) }
        var out = "# HELP sentinel_tls_handshakes_total Completed TLS handshakes, by listener and kind (full or resumed).\n"
        out += "# TYPE sentinel_tls_handshakes_total counter\n"
        for (key, value) in all where !key.failed {
            out += "sentinel_tls_handshakes_total{listener=\(MetricsRegistry.labelValue(key.listener)),kind=\"\(key.outcome)\"} \(value)\n"
        }
        out += "# HELP sentinel_tls_handshake_failures_total TLS connections that failed, by listener and reason.\n"
        out += "# TYPE sentinel_tls_handshake_failures_total counter\n"
        for (key, value) in all where key.failed {
            out += "sentinel_tls_handshake_failures_total{listener=\(MetricsRegistry.labelValue(key.listener)),reason=\"\(key.outcome)\"} \(value)\n"
        }
        return out
    }
}
