public import KDL

/// One entry of `agents { agent "<id>" type="<t>" { … } }`: an external process that inspects
/// traffic (WAF, auth, …) through the agent protocol. Routes use it through an `agent` filter.
public struct AgentConfig: Sendable, Hashable {
    /// The agent id that `agent` filters refer to.
    public var id: String
    /// Where the `agent` node starts.
    public var location: KDLSourceLocation
    /// `type="waf"` (or a `type "waf"` child): informational; default `custom(<id>)`.
    public var type: AgentType
    /// How Sentinel connects to the agent.
    public var transport: AgentTransport
    /// `events …`: what the agent is sent. Default: request headers only.
    public var events: [AgentEvent] = [.requestHeaders]
    /// `timeout-ms`: per-call timeout (> 0).
    public var timeout: Duration = .milliseconds(1000)
    /// `failure-mode`: the agent's own fallback when neither its filter nor the route sets one.
    /// `open` by default, as the original's parser (its docs said closed).
    public var failureMode: FailureMode = .open
    /// `circuit-breaker { … }`: stop calling a failing agent for a while.
    public var circuitBreaker: CircuitBreakerConfig?
    /// `max-request-body-bytes`: the largest request body sent for inspection.
    public var maxRequestBodyBytes: Int64 = 1 << 20
    /// `max-response-body-bytes`: the largest response body sent for inspection.
    public var maxResponseBodyBytes: Int64 = 1 << 20
    /// `request-body-mode`: buffer, stream or hybrid[:bytes].
    public var requestBodyMode: AgentBodyMode = .buffer
    /// `response-body-mode`: buffer, stream or hybrid[:bytes].
    public var responseBodyMode: AgentBodyMode = .buffer
    /// `chunk-timeout-ms`: timeout of one streamed body chunk.
    public var chunkTimeout: Duration = .milliseconds(5000)
    /// `max-concurrent-calls`: calls in flight to this agent at once; more wait (queue isolation).
    public var maxConcurrentCalls = 100
    /// `config { … }`: free-form settings sent to the agent (as JSON) when it connects.
    public var config: JSONValue?
    /// `command`, `restart-policy`, … : how `sentinel-stack` runs it; nil without `command`.
    public var supervision: AgentSupervision?

    public init(id: String, location: KDLSourceLocation, type: AgentType, transport: AgentTransport) {
        self.id = id
        self.location = location
        self.type = type
        self.transport = transport
    }

    /// Reads an `agent "<id>" … { … }` node; nil when the id or the transport is missing or invalid.
    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> AgentConfig? {
        var r = NodeReader(node, path: path, sink: sink)
        let id = r.identifier("agent")
        r = NodeReader(node, path: path.appending(node, id: id), sink: sink)
        _ = r.argument(0)

        // type= property (the original's) or a `type "x"` child (its docs' spelling).
        let typeProperty = r.property("type")
        let typeChild = r.scalar(["type"])
        if let typeProperty, typeChild != nil {
            sink.error(typeProperty.location, r.path, "the agent type is given twice (type= and a type child)", hint: "keep one")
        }
        var type: AgentType?
        if let v = typeProperty ?? typeChild, let s = ValueReader(sink: sink, path: r.path, key: "type").string(v) {
            type = AgentType(s)
        }

        let transport = AgentTransport.read(from: &r, agentID: id)

        var events: [AgentEvent] = []
        if let eventNode = r.single("events") {
            var er = NodeReader(eventNode, path: r.path.appending(eventNode), sink: sink)
            let args = er.arguments()
            if args.isEmpty {
                sink.error(eventNode.location, er.path, "\"events\" needs at least one event",
                           hint: "e.g. events \"request_headers\" \"request_body\"")
            }
            let reader = ValueReader(sink: sink, path: er.path, key: "events")
            for arg in args {
                guard let e = reader.choice(arg, options: AgentEvent.options) else { continue }
                if events.contains(e) {
                    sink.warning(arg.location, er.path, "event \"\(e.rawValue)\" is listed twice")
                } else {
                    events.append(e)
                }
            }
            er.finish()
        }

        let timeout = r.duration("timeout-ms", unit: .milliseconds, default: .milliseconds(1000), min: .milliseconds(1))!
        let failureMode = r.choice("failure-mode", default: FailureMode.open, options: FailureMode.options)
        let breaker = r.single("circuit-breaker").map { CircuitBreakerConfig.read($0, path: r.path, sink: sink) }
        let maxRequestBody = r.size("max-request-body-bytes", default: 1 << 20, range: 1...Int64.max)!
        let maxResponseBody = r.size("max-response-body-bytes", default: 1 << 20, range: 1...Int64.max)!
        let requestMode = AgentBodyMode.read(&r, "request-body-mode") ?? .buffer
        let responseMode = AgentBodyMode.read(&r, "response-body-mode") ?? .buffer
        let chunkTimeout = r.duration("chunk-timeout-ms", unit: .milliseconds, default: .milliseconds(5000), min: .milliseconds(1))!
        let maxCalls = r.int("max-concurrent-calls", default: 100, range: 1...1_000_000)

        var config: JSONValue?
        if let configNode = r.single("config") {
            var cr = NodeReader(configNode, path: r.path.appending(configNode), sink: sink)
            _ = cr.remainingChildren()
            for p in configNode.properties { _ = cr.property(p.name) }
            cr.finish()   // reports arguments: `config` is a block
            config = JSONValue.object(ofChildrenOf: configNode)
        }

        if let v = r.scalar(["protocol-version"]) {
            sink.warning(v.location, r.path, "\"protocol-version\" is ignored: Sentinel always speaks agent protocol v2",
                         hint: "remove the setting")
        }

        let supervision = AgentSupervision.read(from: &r)

        for (mode, limit, name) in [(requestMode, maxRequestBody, "request-body-mode"), (responseMode, maxResponseBody, "response-body-mode")] {
            if case .hybrid(let threshold) = mode, threshold > limit {
                sink.warning(r.locationOf(name), r.path, "the hybrid threshold \(threshold) is above the body limit \(limit); the body is always buffered")
            }
        }
        r.finish()

        guard let id, let transport else { return nil }
        var c = AgentConfig(id: id, location: node.location, type: type ?? .custom(id), transport: transport)
        if !events.isEmpty { c.events = events }
        c.timeout = timeout
        c.failureMode = failureMode
        c.circuitBreaker = breaker
        c.maxRequestBodyBytes = maxRequestBody
        c.maxResponseBodyBytes = maxResponseBody
        c.requestBodyMode = requestMode
        c.responseBodyMode = responseMode
        c.chunkTimeout = chunkTimeout
        c.maxConcurrentCalls = maxCalls
        c.config = config
        c.supervision = supervision
        return c
    }
}
