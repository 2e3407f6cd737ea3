import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Where one upstream target's request-path counters live in `MetricsRegistry`: an index into
/// its preallocated table, and the epoch of the slot when it was handed out.
///
/// It exists so the request path reaches a target's counters by index, with no lookup by name:
/// `ProxyServer` stamps each `UpstreamRuntime` of a new snapshot with its targets' slots. A slot
/// freed by a reload gets a new epoch, so an exchange still finishing on the old snapshot records
/// nothing rather than into the counters of another target that reused the slot.
public struct MetricSlot: Sendable, Equatable {
    var index: Int32
    var epoch: UInt32

    static let none = MetricSlot(index: -1, epoch: 0)
}

/// Why a connection to a target could not be opened (`sentinel_upstream_connect_errors_total`).
enum ConnectErrorReason: Int, CaseIterable, Sendable {
    case refused, timeout, reset, unreachable, resolve, other
    /// Connected, but the TLS handshake failed (certificate, alert, handshake timeout).
    case tls

    var label: String {
        switch self {
        case .refused: "refused"
        case .timeout: "timeout"
        case .reset: "reset"
        case .unreachable: "unreachable"
        case .resolve: "resolve"
        case .other: "other"
        case .tls: "tls"
        }
    }

    /// The reason of a failed connect as NIO reports it: the socket's errno for an address, the
    /// attempts' errors or the DNS failure for a name.
    static func classify(_ error: any Error) -> ConnectErrorReason {
        if let io = error as? IOError { return classify(errno: io.errnoCode) }
        if case ChannelError.connectTimeout = error { return .timeout }
        if let e = error as? NIOConnectionError {
            if let first = e.connectionErrors.first { return classify(first.error) }
            if e.dnsAError != nil || e.dnsAAAAError != nil { return .resolve }
            return .resolve  // no address to try: the name resolved to nothing
        }
        return .other
    }

    static func classify(errno code: Int32) -> ConnectErrorReason {
        switch code {
        case ECONNREFUSED: return .refused
        case ETIMEDOUT: return .timeout
        case ECONNRESET, ECONNABORTED, EPIPE: return .reset
        case EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN: return .unreachable
        default: return .other
        }
    }
}

/// Why an exchange with a connected target failed before its response ended
/// (`sentinel_upstream_response_errors_total`). A 5xx is a response, not an error here.
enum ResponseErrorReason: Int, CaseIterable, Sendable {
    /// Read, write or whole-request timeout.
    case timeout
    /// Invalid response head or body framing, or a 101 that was not asked for.
    case malformed
    /// The target closed (or reset) the connection before the response ended.
    case closed

    var label: String {
        switch self {
        case .timeout: "timeout"
        case .malformed: "malformed"
        case .closed: "closed"
        }
    }
}

/// What one attempt to a target moved, recorded when the attempt ends.
struct TargetSample {
    var slot: MetricSlot
    /// Bytes written to the target (head, body, tunnelled bytes) and read from it.
    var requestBytes: Int
    var responseBytes: Int
    /// Request head written → first response byte; nil when no byte arrived.
    var firstByteSeconds: Double?
    /// The attempt opened a new connection (which clears the target's connect-failure mark).
    var connected: Bool
}

/// The per-target counters of the request path, in a table indexed by `MetricSlot`.
///
/// Slots are assigned when a configuration is adopted (`assign`), keyed by (upstream, target),
/// and stay with their target across reloads, so counters are monotonic; a removed target's slot
/// is cleared and reused. Lives inside the registry's lock.
struct TargetCounterTable {
    struct Counters {
        var connectErrors = [UInt64](repeating: 0, count: ConnectErrorReason.allCases.count)
        var responseErrors = [UInt64](repeating: 0, count: ResponseErrorReason.allCases.count)
        var requestBytes: UInt64 = 0
        var responseBytes: UInt64 = 0
        var selections: UInt64 = 0
        var firstByte = MetricsRegistry.Histogram()
        /// The latest connection attempt failed and none has succeeded since.
        var connectFailing = false
    }

    private(set) var keys: [UpstreamTargetKey?] = []
    private(set) var epochs: [UInt32] = []
    var counters: [Counters] = []
    private(set) var index: [UpstreamTargetKey: Int] = [:]
    private var free: [Int] = []

    /// Keeps the slots of `keep` (counters carry on), frees the others, adds slots for new keys.
    mutating func assign(_ keep: Set<UpstreamTargetKey>) {
        for (key, i) in index where !keep.contains(key) {
            index[key] = nil
            keys[i] = nil
            epochs[i] &+= 1
            counters[i] = Counters()
            free.append(i)
        }
        for key in keep.sorted(by: { ($0.upstream, $0.target) < ($1.upstream, $1.target) }) where index[key] == nil {
            let i: Int
            if let reused = free.popLast() {
                i = reused
                keys[i] = key
            } else {
                i = keys.count
                keys.append(key)
                epochs.append(0)
                counters.append(Counters())
            }
            index[key] = i
        }
    }

    func slot(_ key: UpstreamTargetKey) -> MetricSlot {
        guard let i = index[key] else { return .none }
        return MetricSlot(index: Int32(i), epoch: epochs[i])
    }

    /// The table index of `slot` while it still belongs to the target it was handed out for.
    @inline(__always)
    func live(_ slot: MetricSlot) -> Int? {
        let i = Int(slot.index)
        guard i >= 0, i < epochs.count, epochs[i] == slot.epoch, keys[i] != nil else { return nil }
        return i
    }

    mutating func record(_ sample: TargetSample) {
        guard let i = live(sample.slot) else { return }
        counters[i].requestBytes &+= UInt64(sample.requestBytes)
        counters[i].responseBytes &+= UInt64(sample.responseBytes)
        if let s = sample.firstByteSeconds { counters[i].firstByte.record(s) }
        if sample.connected { counters[i].connectFailing = false }
    }

    /// Targets in label order.
    var sortedSlots: [(key: UpstreamTargetKey, index: Int)] {
        index.map { ($0.key, $0.value) }.sorted { ($0.key.upstream, $0.key.target) < ($1.key.upstream, $1.key.target) }
    }

    func render() -> String {
        var out = ""
        let slots = sortedSlots
        func labels(_ key: UpstreamTargetKey) -> String {
            "upstream=\(MetricsRegistry.labelValue(key.upstream)),target=\(MetricsRegistry.labelValue(key.target))"
        }
        out += "# HELP sentinel_upstream_connect_errors_total Connections to a target that could not be opened, by reason (retried ones included).\n"
        out += "# TYPE sentinel_upstream_connect_errors_total counter\n"
        for (key, i) in slots {
            for r in ConnectErrorReason.allCases {
                out += "sentinel_upstream_connect_errors_total{\(labels(key)),reason=\"\(r.label)\"} \(counters[i].connectErrors[r.rawValue])\n"
            }
        }
        out += "# HELP sentinel_upstream_response_errors_total Exchanges with a connected target that failed before the response ended, by reason.\n"
        out += "# TYPE sentinel_upstream_response_errors_total counter\n"
        for (key, i) in slots {
            for r in ResponseErrorReason.allCases {
                out += "sentinel_upstream_response_errors_total{\(labels(key)),reason=\"\(r.label)\"} \(counters[i].responseErrors[r.rawValue])\n"
            }
        }
        out += "# HELP sentinel_upstream_request_bytes_total Bytes written to a target (request heads, bodies, tunnelled bytes).\n"
        out += "# TYPE sentinel_upstream_request_bytes_total counter\n"
        for (key, i) in slots { out += "sentinel_upstream_request_bytes_total{\(labels(key))} \(counters[i].requestBytes)\n" }
        out += "# HELP sentinel_upstream_response_bytes_total Bytes read from a target (response heads, bodies, tunnelled bytes).\n"
        out += "# TYPE sentinel_upstream_response_bytes_total counter\n"
        for (key, i) in slots { out += "sentinel_upstream_response_bytes_total{\(labels(key))} \(counters[i].responseBytes)\n" }
        out += "# HELP sentinel_upstream_first_byte_seconds Time from the request head written to a target to its first response byte.\n"
        out += "# TYPE sentinel_upstream_first_byte_seconds histogram\n"
        for (key, i) in slots { out += counters[i].firstByte.render("sentinel_upstream_first_byte_seconds", labels: labels(key)) }
        return out
    }
}
