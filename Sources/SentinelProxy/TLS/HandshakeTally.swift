import SentinelTLS

/// TLS handshake outcomes by owner (a listener, or an upstream): completed handshakes by kind
/// (full or resumed) and failed ones by reason. The one counting and rendering shape of
/// `TLSMetrics` (listeners) and `UpstreamTLSMetrics` (upstreams); each keeps it under its lock.
struct HandshakeTally {
    struct Key: Hashable {
        let owner: String
        /// "full", "resumed", or a `TLSError.Reason` raw value for a failure.
        let outcome: String
        let failed: Bool
    }

    /// The metric families and the label it renders as, e.g. `sentinel_tls_handshakes_total`
    /// and `sentinel_tls_handshake_failures_total` by `listener`.
    struct Names {
        let completed: String
        let failed: String
        let label: String
        let completedHelp: String
        let failedHelp: String
    }

    private(set) var counts: [Key: UInt64] = [:]

    mutating func handshake(_ owner: String, resumed: Bool) {
        counts[Key(owner: owner, outcome: resumed ? "resumed" : "full", failed: false), default: 0] += 1
    }

    mutating func failure(_ owner: String, reason: TLSError.Reason) {
        counts[Key(owner: owner, outcome: reason.rawValue, failed: true), default: 0] += 1
    }

    func count(_ owner: String, outcome: String, failed: Bool) -> UInt64 {
        counts[Key(owner: owner, outcome: outcome, failed: failed)] ?? 0
    }

    /// Keeps only the owners `keep` still names (a reload that drops a listener or upstream).
    mutating func retain(_ keep: (String) -> Bool) {
        counts = counts.filter { keep($0.key.owner) }
    }

    /// `<completed>{<label>,kind}` and `<failed>{<label>,reason}`, sorted.
    func render(_ names: Names) -> String {
        let all = counts.sorted { ($0.key.owner, $0.key.outcome) < ($1.key.owner, $1.key.outcome) }
        var out = "# HELP \(names.completed) \(names.completedHelp)\n# TYPE \(names.completed) counter\n"
        for (key, value) in all where !key.failed {
            out += "\(names.completed){\(names.label)=\(MetricsRegistry.labelValue(key.owner)),kind=\"\(key.outcome)\"} \(value)\n"
        }
        out += "# HELP \(names.failed) \(names.failedHelp)\n# TYPE \(names.failed) counter\n"
        for (key, value) in all where key.failed {
            out += "\(names.failed){\(names.label)=\(MetricsRegistry.labelValue(key.owner)),reason=\"\(key.outcome)\"} \(value)\n"
        }
        return out
    }
}
