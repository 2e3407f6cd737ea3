import Synchronization

/// Per-agent counters: calls by event, failures by reason, latency of answered calls, breaker
/// state, ready connections, answers that matched no call. Registered in `MetricsRegistry.agents`
/// and rendered with the other families; an agent removed by a reload keeps its series until
/// the process restarts only if it comes back (removed agents are dropped on `retain`).
public final class AgentMetrics: Sendable {
    struct Series {
        var calls: [String: UInt64] = [:]
        var failures: [String: UInt64] = [:]
        var latency = MetricsRegistry.Histogram()
        var breakerState = 0
        var readyConnections = 0
        var unmatchedAnswers: UInt64 = 0
        var reconnects: UInt64 = 0
    }

    private let state = Mutex<[String: Series]>([:])

    public init() {}

    func call(agent: String, event: String) { state.withLock { $0[agent, default: Series()].calls[event, default: 0] &+= 1 } }
    func failure(agent: String, reason: AgentCallFailure) {
        state.withLock { $0[agent, default: Series()].failures[reason.description, default: 0] &+= 1 }
    }
    func answered(agent: String, seconds: Double) { state.withLock { $0[agent, default: Series()].latency.record(seconds) } }
    func breaker(agent: String, state value: Int) { state.withLock { $0[agent, default: Series()].breakerState = value } }
    func ready(agent: String, connections: Int) { state.withLock { $0[agent, default: Series()].readyConnections = connections } }
    func unmatched(agent: String) { state.withLock { $0[agent, default: Series()].unmatchedAnswers &+= 1 } }
    func reconnect(agent: String) { state.withLock { $0[agent, default: Series()].reconnects &+= 1 } }

    /// Keeps the series of these agents only (after a reload).
    func retain(_ agents: Set<String>) { state.withLock { s in s = s.filter { agents.contains($0.key) } } }

    /// Calls of one agent so far, all events (tests).
    public func calls(agent: String) -> UInt64 { state.withLock { $0[agent]?.calls.values.reduce(0, &+) ?? 0 } }
    /// Failures of one agent by reason (tests).
    public func failures(agent: String, reason: AgentCallFailure) -> UInt64 {
        state.withLock { $0[agent]?.failures[reason.description] ?? 0 }
    }
    /// Answers that matched no call in flight (late or foreign).
    public func unmatchedAnswers(agent: String) -> UInt64 { state.withLock { $0[agent]?.unmatchedAnswers ?? 0 } }

    func render() -> String {
        let s = state.withLock { $0 }
        guard !s.isEmpty else { return "" }
        let agents = s.keys.sorted()
        var out = "# HELP sentinel_agent_calls_total Calls made to each agent, by event.\n# TYPE sentinel_agent_calls_total counter\n"
        for a in agents {
            for (event, n) in s[a]!.calls.sorted(by: { $0.key < $1.key }) {
                out += "sentinel_agent_calls_total{agent=\(MetricsRegistry.labelValue(a)),event=\"\(event)\"} \(n)\n"
            }
        }
        out += "# HELP sentinel_agent_failures_total Agent calls without a decision, by reason (timeout, unavailable, breaker_open, …).\n"
        out += "# TYPE sentinel_agent_failures_total counter\n"
        for a in agents {
            for (reason, n) in s[a]!.failures.sorted(by: { $0.key < $1.key }) {
                out += "sentinel_agent_failures_total{agent=\(MetricsRegistry.labelValue(a)),reason=\"\(reason)\"} \(n)\n"
            }
        }
        out += "# HELP sentinel_agent_call_duration_seconds Time from call to answer, answered calls only.\n"
        out += "# TYPE sentinel_agent_call_duration_seconds histogram\n"
        for a in agents {
            out += s[a]!.latency.render("sentinel_agent_call_duration_seconds", labels: "agent=\(MetricsRegistry.labelValue(a))")
        }
        out += "# HELP sentinel_agent_circuit_breaker_state Agent breaker: 0 closed, 1 open, 2 half-open.\n"
        out += "# TYPE sentinel_agent_circuit_breaker_state gauge\n"
        for a in agents { out += "sentinel_agent_circuit_breaker_state{agent=\(MetricsRegistry.labelValue(a))} \(s[a]!.breakerState)\n" }
        out += "# HELP sentinel_agent_ready_connections Connections to the agent past their handshake.\n"
        out += "# TYPE sentinel_agent_ready_connections gauge\n"
        for a in agents { out += "sentinel_agent_ready_connections{agent=\(MetricsRegistry.labelValue(a))} \(s[a]!.readyConnections)\n" }
        out += "# HELP sentinel_agent_unmatched_answers_total Answers that matched no call in flight (late or unknown correlation id).\n"
        out += "# TYPE sentinel_agent_unmatched_answers_total counter\n"
        for a in agents { out += "sentinel_agent_unmatched_answers_total{agent=\(MetricsRegistry.labelValue(a))} \(s[a]!.unmatchedAnswers)\n" }
        out += "# HELP sentinel_agent_reconnects_total Connection attempts to the agent after the first.\n"
        out += "# TYPE sentinel_agent_reconnects_total counter\n"
        for a in agents { out += "sentinel_agent_reconnects_total{agent=\(MetricsRegistry.labelValue(a))} \(s[a]!.reconnects)\n" }
        return out
    }
}
