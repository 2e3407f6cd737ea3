public import KDL

/// `type "agent"`: sends the request (and optionally the response) to an external agent
/// (WAF, auth, …) that decides to allow, block or modify it.
public struct AgentFilterConfig: Sendable, Hashable {
    /// `agent "<id>"` (required): the agent in `agents { … }` to call.
    public var agent: ConfigReference
    /// `timeout-ms`: overrides the agent's own per-call timeout.
    public var timeout: Duration?
    /// `failure-mode`: what to do when the agent cannot answer. When unset, the route's
    /// policy applies, then the agent's own setting (Sentinel uses filter → route → agent for
    /// every event, where the original differed per event).
    public var failureMode: FailureMode?
    /// `phase`: which side is sent to the agent.
    public var phase: FilterPhase = .request
    /// `inspect-body`: also send the body (subject to the agent's body limits and modes).
    public var inspectBody = false
    /// `max-body-bytes`: the largest body sent to the agent from this filter; unset = the agent's limit.
    public var maxBodyBytes: Int64?

    public init(agent: ConfigReference) {
        self.agent = agent
    }

    /// The referenced agent id and where it is written.
    public var agentReference: (id: String, location: KDLSourceLocation) { (agent.id, agent.location) }

    static func read(from r: inout NodeReader) -> AgentFilterConfig? {
        let agent = r.reference(.agent, "agent")
        let timeout = r.duration("timeout-ms", unit: .milliseconds, min: .milliseconds(1))
        let failureMode = r.choice("failure-mode", options: FailureMode.options)
        let phase = r.choice("phase", default: FilterPhase.request, options: FilterPhase.options)
        let inspectBody = r.bool("inspect-body", default: false)
        let maxBody = r.size("max-body-bytes", range: 1...Int64.max)
        guard let agent else {
            if !r.has("agent") {
                r.sink.error(r.location, r.path, "an agent filter needs \"agent\"",
                             hint: "name the agent to call: agent \"<agent-id>\" (defined in agents { agent \"<id>\" … })")
            }
            return nil
        }
        var c = AgentFilterConfig(agent: agent)
        c.timeout = timeout
        c.failureMode = failureMode
        c.phase = phase
        c.inspectBody = inspectBody
        c.maxBodyBytes = maxBody
        if maxBody != nil, !inspectBody {
            r.sink.warning(r.locationOf("max-body-bytes"), r.path, "\"max-body-bytes\" has no effect without inspect-body #true")
        }
        return c
    }
}
