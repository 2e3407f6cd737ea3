import KDL

/// A route's `fallback { … }` block: when the primary upstream fails in one of the configured
/// ways, retry the request on other upstreams in order (mainly for inference routes).
public struct FallbackConfig: Sendable, Hashable {
    /// `triggers { … }`: which failures switch to a fallback.
    public struct Triggers: Sendable, Hashable {
        /// `on-health-failure`: the primary is marked unhealthy.
        public var onHealthFailure = true
        /// `on-connection-error`: connecting to or talking to the primary fails.
        public var onConnectionError = true
        /// `on-budget-exhausted`: the route's token budget is used up.
        public var onBudgetExhausted = false
        /// `on-latency-threshold-ms`: the primary is slower than this.
        public var onLatencyThreshold: Duration?
        /// `on-error-codes 502 503`: the primary answers one of these statuses.
        public var onErrorCodes: [Int] = []
        public init() {}
    }

    /// One `fallback-upstream "<id>" { … }`.
    public struct Upstream: Sendable, Hashable {
        /// The upstream tried (reference).
        public var upstream: ConfigReference
        /// `provider`: the upstream's API dialect, default generic.
        public var provider: InferenceProvider = .generic
        /// `skip-if-unhealthy`: do not try this upstream while it is marked unhealthy.
        public var skipIfUnhealthy = false
        /// `model-mapping { "gpt-4" "claude-3-opus" }`: rewrite the requested model.
        public var modelMapping: [ModelMapping] = []
        public init(upstream: ConfigReference) { self.upstream = upstream }
    }

    public struct ModelMapping: Sendable, Hashable {
        public var from: String
        public var to: String
    }

    /// `max-attempts`: upstreams tried at most, primary included.
    public var maxAttempts = 3
    public var triggers = Triggers()
    /// The fallback upstreams, in the order they are tried.
    public var upstreams: [Upstream] = []

    public init() {}

    /// The fallback upstreams referenced.
    public var references: [ConfigReference] { upstreams.map(\.upstream) }

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> FallbackConfig {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var c = FallbackConfig()
        c.maxAttempts = r.int("max-attempts", default: c.maxAttempts, range: 1...100)
        if let t = r.single("triggers") {
            var tr = NodeReader(t, path: r.path.appending(t), sink: sink)
            c.triggers.onHealthFailure = tr.bool("on-health-failure", default: true)
            c.triggers.onConnectionError = tr.bool("on-connection-error", default: true)
            c.triggers.onBudgetExhausted = tr.bool("on-budget-exhausted", default: false)
            c.triggers.onLatencyThreshold = tr.duration("on-latency-threshold-ms", unit: .milliseconds, min: .milliseconds(1))
            c.triggers.onErrorCodes = tr.intList("on-error-codes", range: 400...599) ?? []
            tr.finish()
        }
        var seen: [String: KDLSourceLocation] = [:]
        for f in r.all("fallback-upstream") {
            var fr = NodeReader(f, path: r.path, sink: sink)
            let idValue = fr.argument(0)
            let id = fr.identifier("upstream")
            fr = NodeReader(f, path: r.path.appending(f, id: id), sink: sink)
            _ = fr.argument(0)
            let provider = fr.choice("provider", default: InferenceProvider.generic, options: InferenceProvider.options)
            let skip = fr.bool("skip-if-unhealthy", default: false)
            var mappings: [ModelMapping] = []
            if let m = fr.single("model-mapping") {
                mappings = readModelMapping(m, fr.path, sink)
            }
            fr.finish()
            guard let id, let idValue else { continue }
            if let first = seen[id] {
                sink.error(idValue.location, fr.path, "fallback upstream \"\(id)\" is listed twice (first at line \(first.line))")
                continue
            }
            seen[id] = idValue.location
            var u = Upstream(upstream: ConfigReference(kind: .upstream, id: id, location: idValue.location, path: fr.path.description))
            u.provider = provider
            u.skipIfUnhealthy = skip
            u.modelMapping = mappings
            c.upstreams.append(u)
        }
        if c.upstreams.isEmpty, !r.has("fallback-upstream") {
            sink.error(node.location, r.path, "fallback needs at least one fallback-upstream",
                       hint: "fallback-upstream \"<upstream-id>\" { provider \"generic\" }")
        }
        r.finish()
        return c
    }

    /// `model-mapping { "from" "to" … }` (node name = source model, argument = target).
    static func readModelMapping(_ node: KDLNode, _ path: ConfigPath, _ sink: DiagnosticSink) -> [ModelMapping] {
        var mr = NodeReader(node, path: path.appending(node), sink: sink)
        mr.childNoun = "model"
        var result: [ModelMapping] = []
        for child in mr.remainingChildren() {
            guard let v = NodeReader.scalarValue(of: child, path: mr.path, sink: sink),
                  let to = ValueReader(sink: sink, path: mr.path, key: child.name).string(v) else { continue }
            if result.contains(where: { $0.from == child.name }) {
                sink.error(child.location, mr.path, "model \"\(child.name)\" is mapped twice")
                continue
            }
            result.append(ModelMapping(from: child.name, to: to))
        }
        mr.finish()
        return result
    }
}
