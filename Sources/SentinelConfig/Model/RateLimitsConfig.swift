import KDL

/// The global `rate-limits { … }` block.
public struct RateLimitsConfig: Sendable, Hashable {
    /// `global { … }`: one limiter in front of every route.
    public struct Global: Sendable, Hashable {
        /// `max-rps` (required): sustained requests per second per key.
        public var maxRPS: Int
        /// `burst`: extra requests allowed in a spike.
        public var burst = 10
        /// `key`: what requests are counted by.
        public var key: RateLimitKey = .clientIP
        public init(maxRPS: Int) { self.maxRPS = maxRPS }
    }

    /// `default-rps`: the rate of a route `rate-limit` policy that does not give one.
    public var defaultRPS: Int?
    /// `default-burst`: the burst of a route `rate-limit` policy that does not give one.
    public var defaultBurst: Int?
    /// `key`: the default key of route policies.
    public var key: RateLimitKey = .clientIP
    /// nil when there is no `global` block.
    public var global: Global?

    public init() {}

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> RateLimitsConfig {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var c = RateLimitsConfig()
        c.defaultRPS = r.int("default-rps", range: 1...10_000_000)
        c.defaultBurst = r.int("default-burst", range: 0...10_000_000)
        c.key = RateLimitKey.read(&r, "key") ?? c.key
        if let g = r.single("global") {
            var gr = NodeReader(g, path: r.path.appending(g), sink: sink)
            let rps = gr.int("max-rps", range: 1...10_000_000)
            let burst = gr.int("burst", default: 10, range: 0...10_000_000)
            let key = RateLimitKey.read(&gr, "key") ?? .clientIP
            if rps == nil, !gr.has("max-rps") {
                sink.error(g.location, gr.path, "the global rate limit needs \"max-rps\"", hint: "global { max-rps 1000; burst 100 }")
            }
            gr.finish()
            if let rps {
                var global = Global(maxRPS: rps)
                global.burst = burst
                global.key = key
                c.global = global
            }
        }
        r.finish()
        return c
    }
}
