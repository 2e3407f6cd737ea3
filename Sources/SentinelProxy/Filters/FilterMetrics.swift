import Logging
import SentinelObservability
import Synchronization

/// What the filters decided, counted: `sentinel_filter_decisions_total{filter,type,action}`.
/// Every decision that is not a plain pass is one increment (an answer by its status class, a
/// failure by its mode, a wait, a cancelled wait); a pass costs nothing. Labels are configured
/// filter ids, type names and a fixed set of actions, so the series are bounded by the
/// configuration (and by `maxSeries` beyond that).
///
/// Failures are also logged, at most once per second per filter (a backend that is down would
/// otherwise log once per request).
final class FilterMetrics: Sendable {
    struct Key: Hashable {
        let filter: String
        let type: String
        let action: String
    }

    private struct State {
        var counts: [Key: UInt64] = [:]
        /// When each filter last logged a failure (monotonic seconds).
        var lastLogged: [String: UInt64] = [:]
    }

    private let state = Mutex(State())
    let maxSeries: Int

    init(maxSeries: Int = 10_000) { self.maxSeries = maxSeries }

    func count(filter: String, type: String, action: String) {
        let key = Key(filter: filter, type: type, action: action)
        state.withLock { s in
            if s.counts[key] != nil || s.counts.count < maxSeries { s.counts[key, default: 0] += 1 }
        }
    }

    /// Whether a failure of `filter` at `second` should be logged (the first in its second).
    func shouldLog(filter: String, second: UInt64) -> Bool {
        state.withLock { s in
            if let last = s.lastLogged[filter], last == second { return false }
            if s.lastLogged[filter] == nil, s.lastLogged.count >= maxSeries { return false }
            s.lastLogged[filter] = second
            return true
        }
    }

    func value(filter: String, action: String) -> UInt64 {
        state.withLock { s in s.counts.filter { $0.key.filter == filter && $0.key.action == action }.values.reduce(0, +) }
    }

    func render() -> String {
        let counts = state.withLock { $0.counts }
        guard !counts.isEmpty else { return "" }
        var out = "# HELP sentinel_filter_decisions_total Filter decisions other than a plain pass, by filter, type and action.\n"
        out += "# TYPE sentinel_filter_decisions_total counter\n"
        for (key, n) in counts.sorted(by: { ($0.key.filter, $0.key.action) < ($1.key.filter, $1.key.action) }) {
            out += "sentinel_filter_decisions_total{filter=\(MetricsRegistry.labelValue(key.filter)),"
                + "type=\(MetricsRegistry.labelValue(key.type)),action=\(MetricsRegistry.labelValue(key.action))} \(n)\n"
        }
        return out
    }
}

/// The host's `FilterObserver`: counts each decision in `FilterMetrics` and logs failures.
struct FilterEvents: FilterObserver {
    let metrics: FilterMetrics
    let logger: Logger?
    /// Monotonic seconds now (for the failure log's once-per-second bound).
    let second: UInt64

    func filterAnswered(_ entry: FilterChain.Entry, status: Int) {
        metrics.count(filter: entry.id, type: entry.type, action: Self.answerAction(status))
    }

    func filterFailed(_ entry: FilterChain.Entry, _ failure: FilterFailure, routeID: String) {
        let mode = entry.failureMode.rawValue
        metrics.count(filter: entry.id, type: entry.type, action: "failed_\(mode)")
        guard let logger, metrics.shouldLog(filter: entry.id, second: second) else { return }
        logger.emit(
            "warn", "filter_failed",
            [
                "filter": .string(entry.id), "type": .string(entry.type), "route": .string(routeID),
                "reason": .string(failure.reason), "detail": .string(failure.detail), "failure_mode": .string(mode),
                "outcome": .string(entry.failureMode == .open ? "request continues (failure-mode open)" : "request refused (failure-mode closed)"),
            ])
    }

    func filterWaits(_ entry: FilterChain.Entry) {
        metrics.count(filter: entry.id, type: entry.type, action: "wait")
    }

    func filterCancelled(_ entry: FilterChain.Entry, _ reason: FilterCancelReason) {
        metrics.count(filter: entry.id, type: entry.type, action: "cancelled_\(reason.rawValue)")
    }

    /// `answer_2xx` … `answer_5xx`: the status class, not the status (bounded).
    static func answerAction(_ status: Int) -> String {
        switch status {
        case 100..<200: return "answer_1xx"
        case 200..<300: return "answer_2xx"
        case 300..<400: return "answer_3xx"
        case 400..<500: return "answer_4xx"
        default: return "answer_5xx"
        }
    }
}
