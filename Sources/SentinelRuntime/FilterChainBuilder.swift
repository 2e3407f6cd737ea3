import SentinelConfig
import SentinelProxy

/// Compiles a route's `filters "a" "b"` into the data plane's `FilterChain`, once per snapshot:
/// each id looked up from the route's scope (service → namespace → exported → global, or a
/// qualified `ns:id`), each filter turned into its runtime form, in the route's order and by
/// phase. Static header edits are joined here so a request pays nothing for them.
enum FilterChainBuilder {
    static func chain(_ route: RouteConfig, scope: SnapshotBuilder.Scope, agents: [String: AgentHandle] = [:]) throws(SnapshotBuilder.Failure) -> FilterChain {
        guard !route.filters.isEmpty else { return .none }
        var requestEdits = HeaderEdits()
        var responseEdits = HeaderEdits()
        var entries: [FilterChain.Entry] = []
        // Consecutive agent filters form one step: their agents are called at once.
        var agentRun: [(id: String, member: AgentRequestStep.Member)] = []
        func closeAgentRun() {
            guard !agentRun.isEmpty else { return }
            entries.append(FilterChain.agentEntry(id: agentRun.map(\.id).joined(separator: ","), AgentRequestStep(members: agentRun.map(\.member))))
            agentRun = []
        }
        for id in route.filters {
            guard let filter = scope.filter(id) else {
                throw SnapshotBuilder.Failure(description: "route \"\(route.id)\": filter \"\(id)\" is not defined")
            }
            if case .agent(let a) = filter.kind {
                guard let handle = agents[a.agent.id] else {
                    throw SnapshotBuilder.Failure(description: "route \"\(route.id)\": filter \"\(id)\": agent \"\(a.agent.id)\" is not defined")
                }
                // Which failure mode applies: the filter's, else the route's policy, else the agent's.
                let mode: AgentSettings.FailureMode
                let origin: String
                if let m = a.failureMode {
                    (mode, origin) = (m == .open ? .open : .closed, "filter")
                } else if let m = route.policies.failureMode {
                    (mode, origin) = (m == .open ? .open : .closed, "route")
                } else {
                    (mode, origin) = (handle.settings.failureMode, "agent")
                }
                agentRun.append((id, AgentRequestStep.Member(filterID: id, agent: handle, failureMode: mode, origin: origin, timeout: a.timeout)))
                continue
            }
            closeAgentRun()
            switch filter.kind {
            case .headers(let h):
                let edits = SnapshotBuilder.edits(h.modifications)
                if h.phase != .response { requestEdits = requestEdits.followed(by: edits) }
                if h.phase != .request { responseEdits = responseEdits.followed(by: edits) }
            default:
                throw SnapshotBuilder.Failure(
                    description: "route \"\(route.id)\": filter \"\(id)\" of type \(filter.kind.typeName.rawValue) is not supported yet")
            }
        }
        closeAgentRun()
        return FilterChain(request: entries, requestEdits: requestEdits, responseEdits: responseEdits)
    }
}
