import KDL

/// How an upstream picks a target for each request (`load-balancing "<algorithm>" { … }`).
public struct LoadBalancingConfig: Sendable, Hashable {
    public enum Algorithm: String, Sendable, Hashable, CaseIterable {
        case roundRobin = "round_robin"
        case weighted
        case leastConnections = "least_connections"
        case weightedLeastConnections = "weighted_least_conn"
        case random
        case ipHash = "ip_hash"
        case consistentHash = "consistent_hash"
        case maglev
        case powerOfTwoChoices = "power_of_two_choices"
        case adaptive
        case peakEWMA = "peak_ewma"
        case localityAware = "locality_aware"
        case deterministicSubset = "deterministic_subset"
        case leastTokensQueued = "least_tokens_queued"
        case sticky
    }

    /// What the hash-based algorithms hash.
    public enum HashKey: Sendable, Hashable {
        case clientIP
        case header(String)
        case cookie(String)
        case path
    }

    public var algorithm: Algorithm = .roundRobin
    public var hashKey: HashKey = .clientIP
    /// Sticky sessions.
    public var cookieName: String = "SERVERID"
    public var cookieTTL: Duration = .seconds(3600)
    public var cookiePath: String = "/"
    public var cookieSecure: Bool = true
    public var cookieSameSite: String = "lax"
    /// Secret that signs sticky cookies; nil means one the master generates per host.
    public var cookieSecret: String?
    /// Algorithm for the first assignment (sticky) or when no local target is healthy (locality).
    public var fallback: Algorithm = .roundRobin
    /// Maximum load factor of consistent hashing with bounded loads.
    public var loadFactor: Double = 1.25
    public var virtualNodes: Int = 150
    /// Targets each proxy uses (deterministic subsetting).
    public var subsetSize: Int = 10
    /// Local zone for locality-aware balancing; nil means the SENTINEL_ZONE / ZONE / REGION environment.
    public var localZone: String?
    public var zonePriority: [String] = []
    public var failLocal: Bool = false
    /// Power of two choices: "connections" or "latency"; `choices` 2 or 3.
    public var loadMetric: String = "connections"
    public var choices: Int = 2

    /// The original's names and aliases.
    static let names: [(String, Algorithm)] = [
        ("round_robin", .roundRobin), ("roundrobin", .roundRobin), ("round-robin", .roundRobin),
        ("weighted", .weighted), ("weighted_round_robin", .weighted), ("weighted-round-robin", .weighted),
        ("least_connections", .leastConnections), ("leastconnections", .leastConnections), ("least-connections", .leastConnections),
        ("weighted_least_conn", .weightedLeastConnections), ("weighted_least_connections", .weightedLeastConnections), ("wlc", .weightedLeastConnections),
        ("random", .random),
        ("ip_hash", .ipHash), ("iphash", .ipHash),
        ("consistent_hash", .consistentHash), ("consistenthash", .consistentHash),
        ("maglev", .maglev),
        ("power_of_two_choices", .powerOfTwoChoices), ("p2c", .powerOfTwoChoices),
        ("adaptive", .adaptive),
        ("peak_ewma", .peakEWMA), ("peakewma", .peakEWMA), ("ewma", .peakEWMA),
        ("locality_aware", .localityAware), ("localityaware", .localityAware), ("locality", .localityAware),
        ("deterministic_subset", .deterministicSubset), ("subset", .deterministicSubset), ("subsetting", .deterministicSubset),
        ("least_tokens_queued", .leastTokensQueued), ("least_tokens", .leastTokensQueued), ("leasttokensqueued", .leastTokensQueued),
        ("sticky", .sticky), ("sticky_session", .sticky), ("stickysession", .sticky),
    ]

    public init() {}

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> LoadBalancingConfig {
        let p = path.appending(node)
        var r = NodeReader(node, path: p, sink: sink)
        var c = LoadBalancingConfig()
        guard let v = r.argument(0) else {
            sink.error(node.location, p, "load-balancing needs an algorithm", hint: "write: load-balancing \"round_robin\"")
            r.finish()
            return c
        }
        let values = ValueReader(sink: sink, path: p, key: "load-balancing")
        c.algorithm = values.choice(v, options: names) ?? .roundRobin
        switch c.algorithm {
        case .sticky:
            c.cookieName = r.string("cookie-name") ?? c.cookieName
            c.cookieTTL = r.duration("cookie-ttl", unit: .seconds, default: c.cookieTTL, min: .seconds(1))!
            c.cookiePath = r.string("cookie-path") ?? c.cookiePath
            c.cookieSecure = r.bool("cookie-secure", default: true)
            c.cookieSameSite = r.choice("cookie-same-site", default: "lax", options: [("strict", "strict"), ("lax", "lax"), ("none", "none")])
            c.cookieSecret = r.string("cookie-secret")
            c.fallback = r.choice("fallback", default: .roundRobin, options: names)
            if c.fallback == .sticky {
                sink.error(node.location, p, "the fallback of sticky cannot be sticky")
                c.fallback = .roundRobin
            }
        case .ipHash, .consistentHash, .maglev:
            if let key = r.scalar(["hash-key", "key"]) { c.hashKey = Self.hashKey(key, values: ValueReader(sink: sink, path: p, key: "hash-key")) }
            if c.algorithm == .consistentHash {
                c.loadFactor = r.double("load-factor", default: 1.25, range: 1.0...10.0)
                c.virtualNodes = r.int("virtual-nodes", default: 150, range: 1...10_000)
            }
        case .localityAware:
            c.localZone = r.string("local-zone", "zone")
            c.zonePriority = r.stringList("zone-priority") ?? []
            if let fb = r.scalar(["fallback"]) {
                let name = values.string(fb)
                if name == "fail_local" || name == "fail-local" {
                    c.failLocal = true
                } else {
                    c.fallback = ValueReader(sink: sink, path: p, key: "fallback").choice(
                        fb, options: [("round_robin", .roundRobin), ("random", .random)]) ?? .roundRobin
                }
            }
        case .deterministicSubset:
            c.subsetSize = r.int("subset-size", default: 10, range: 1...10_000)
        case .powerOfTwoChoices:
            c.loadMetric = r.choice("load-metric", default: "connections", options: [("connections", "connections"), ("latency", "latency")])
            c.choices = r.int("choices", default: 2, range: 2...3)
        default:
            break
        }
        r.finish()
        return c
    }

    static func hashKey(_ v: KDLValue, values: ValueReader) -> HashKey {
        guard let s = values.string(v) else { return .clientIP }
        if s == "client-ip" || s == "client_ip" || s == "ip" { return .clientIP }
        if s == "path" { return .path }
        if s.hasPrefix("header:"), s.count > 7 { return .header(String(s.dropFirst(7))) }
        if s.hasPrefix("cookie:"), s.count > 7 { return .cookie(String(s.dropFirst(7))) }
        values.sink.error(v.location, values.path, "unknown hash key \"\(s)\"",
                          hint: "one of: \"client-ip\", \"path\", \"header:<Name>\", \"cookie:<name>\"")
        return .clientIP
    }
}

/// Active health checks (`health-check { type "http" { path "/health" } … }`).
public struct HealthCheckConfig: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case tcp
        case http(path: String, expectedStatus: Int, host: String?)
        /// `service` "" asks for the whole server; `host` is the `:authority` (nil: the target address).
        case grpc(service: String, host: String?)
        case inference(endpoint: String, expectedModels: [String])
    }

    public var kind: Kind = .tcp
    public var interval: Duration = .seconds(10)
    public var timeout: Duration = .seconds(5)
    public var healthyThreshold: Int = 2
    public var unhealthyThreshold: Int = 3
    /// Extra readiness probes of inference backends, as written (validated key by key).
    public var readiness: [String: [String: String]]?

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> HealthCheckConfig {
        let p = path.appending(node)
        var r = NodeReader(node, path: p, sink: sink)
        var h = HealthCheckConfig()
        if let t = r.single("type") {
            let tp = p.appending(t)
            var tr = NodeReader(t, path: tp, sink: sink)
            tr.childNoun = "health-check setting"
            let name = tr.argument(0).flatMap { ValueReader(sink: sink, path: tp, key: "type").choice($0, options: [("http", "http"), ("tcp", "tcp"), ("grpc", "grpc"), ("inference", "inference")]) }
            if t.arguments.isEmpty { sink.error(t.location, tp, "type needs a value", hint: "one of: \"http\", \"tcp\", \"grpc\", \"inference\"") }
            switch name {
            case "http":
                let path = tr.string("path") ?? "/health"
                if !path.hasPrefix("/") { sink.error(t.location, tp, "the health-check path must start with \"/\"") }
                h.kind = .http(path: path, expectedStatus: tr.int("expected-status", default: 200, range: 100...599), host: tr.string("host"))
            case "grpc":
                h.kind = .grpc(service: tr.string("service", allowEmpty: true) ?? "", host: tr.string("host"))
            case "inference":
                h.kind = .inference(endpoint: tr.string("endpoint") ?? "/v1/models", expectedModels: tr.stringList("expected-models") ?? [])
                if let readiness = tr.single("readiness") { h.readiness = readReadiness(readiness, path: tp, sink: sink) }
            default:
                h.kind = .tcp
            }
            tr.finish()
        }
        h.interval = r.duration("interval-secs", "interval", unit: .seconds, default: h.interval, min: .seconds(1))!
        h.timeout = r.duration("timeout-secs", "timeout", unit: .seconds, default: h.timeout, min: .milliseconds(1))!
        h.healthyThreshold = r.int("healthy-threshold", default: 2, range: 1...1000)
        h.unhealthyThreshold = r.int("unhealthy-threshold", default: 3, range: 1...1000)
        r.finish()
        if h.timeout > h.interval {
            sink.error(node.location, p, "timeout-secs is longer than interval-secs", hint: "a probe must finish before the next one starts")
        }
        return h
    }

    static func readReadiness(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> [String: [String: String]] {
        let p = path.appending(node)
        var r = NodeReader(node, path: p, sink: sink)
        var result: [String: [String: String]] = [:]
        let schema: [(String, [String])] = [
            ("inference-probe", ["max-tokens", "max-latency-ms", "model", "prompt"]),
            ("model-status", ["endpoint-pattern", "field", "expected", "model"]),
            ("queue-depth", ["header", "field", "degraded-threshold", "unhealthy-threshold", "endpoint"]),
            ("warmth-detection", ["sample-size", "cold-multiplier", "idle-cold-secs", "action"]),
        ]
        for (block, keys) in schema {
            guard let b = r.single(block) else { continue }
            var br = NodeReader(b, path: p.appending(b), sink: sink)
            var fields: [String: String] = [:]
            for key in keys {
                if let v = br.scalar([key]) { fields[key] = NodeReader.show(v) }
            }
            br.finish()
            result[block] = fields
        }
        r.finish()
        return result
    }
}
