import SentinelTLS
import Synchronization

/// TLS handshake counters of the process: completed handshakes (full or resumed) and failures
/// by reason, per listener. Counted once per handshake (never per request).
///
/// It exists apart from `MetricsRegistry`'s request state so a handshake takes its own small
/// lock, not the one every finished request takes.
final class TLSMetrics: Sendable {
    private let counts = Mutex(HandshakeTally())
    /// Connections that had to wait for a handshake slot, per listener.
    private let waits = Mutex<[String: UInt64]>([:])
    /// The certificates of the current snapshot: (listener, subject, file, not-after).
    private let certificates = Mutex<[ExpiryEntry]>([])
    /// The bound on handshakes in flight in this process (`limits { max-tls-handshakes }`).
    let handshakes = HandshakeGate()

    struct ExpiryEntry: Equatable {
        var listener: String
        var subject: String
        var file: String
        var notAfter: Int64
    }

    func waited(listener: String) {
        waits.withLock { $0[listener, default: 0] += 1 }
    }

    func waitCount(listener: String) -> UInt64 { waits.withLock { $0[listener] ?? 0 } }

    /// The certificates of `snapshot`'s HTTPS listeners (at start and at every reload).
    func serve(_ snapshot: ServerSnapshot) {
        var entries: [ExpiryEntry] = []
        for l in snapshot.listeners {
            guard let tls = l.tls else { continue }
            for c in tls.contexts.servedCertificates {
                entries.append(ExpiryEntry(listener: l.id, subject: c.leaf.subject, file: c.source, notAfter: c.leaf.notAfter))
            }
        }
        certificates.withLock { $0 = entries }
    }

    func handshake(listener: String, resumed: Bool) {
        counts.withLock { $0.handshake(listener, resumed: resumed) }
    }

    func failure(listener: String, reason: TLSError.Reason) {
        counts.withLock { $0.failure(listener, reason: reason) }
    }

    func count(listener: String, outcome: String, failed: Bool) -> UInt64 {
        counts.withLock { $0.count(listener, outcome: outcome, failed: failed) }
    }

    private static let names = HandshakeTally.Names(
        completed: "sentinel_tls_handshakes_total", failed: "sentinel_tls_handshake_failures_total", label: "listener",
        completedHelp: "Completed TLS handshakes, by listener and kind (full or resumed).",
        failedHelp: "TLS connections that failed, by listener and reason.")

    /// - Parameter now: wall-clock Unix seconds (the expiry gauge is seconds to not-after).
    func render(now: Int64) -> String {
        var out = counts.withLock { $0 }.render(Self.names)
        out += "# HELP sentinel_tls_handshake_waits_total Connections that waited, unread, for a handshake slot (limits max-tls-handshakes reached).\n"
        out += "# TYPE sentinel_tls_handshake_waits_total counter\n"
        for (listener, value) in waits.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            out += "sentinel_tls_handshake_waits_total{listener=\(MetricsRegistry.labelValue(listener))} \(value)\n"
        }
        out += "# HELP sentinel_tls_handshakes_in_flight TLS handshakes in progress (bounded by limits max-tls-handshakes).\n"
        out += "# TYPE sentinel_tls_handshakes_in_flight gauge\n"
        out += "sentinel_tls_handshakes_in_flight \(handshakes.inFlight)\n"
        out += "# HELP sentinel_tls_handshakes_waiting Connections waiting for a handshake slot.\n"
        out += "# TYPE sentinel_tls_handshakes_waiting gauge\n"
        out += "sentinel_tls_handshakes_waiting \(handshakes.waiting)\n"
        let certs = certificates.withLock { $0 }
        if !certs.isEmpty {
            out += "# HELP sentinel_tls_certificate_expiry_seconds Seconds until each served certificate's not-after (negative: expired), by listener, subject and file.\n"
            out += "# TYPE sentinel_tls_certificate_expiry_seconds gauge\n"
            for c in certs {
                out += "sentinel_tls_certificate_expiry_seconds{listener=\(MetricsRegistry.labelValue(c.listener)),"
                out += "subject=\(MetricsRegistry.labelValue(c.subject)),file=\(MetricsRegistry.labelValue(c.file))} \(c.notAfter - now)\n"
            }
        }
        return out
    }
}
