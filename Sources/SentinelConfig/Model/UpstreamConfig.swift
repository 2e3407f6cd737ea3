public import KDL

/// A pool of backend servers (`upstreams { upstream "<id>" { … } }`).
public struct UpstreamConfig: Sendable, Hashable {
    public var id: String
    public var targets: [UpstreamTarget]
    public var loadBalancing: LoadBalancingConfig = LoadBalancingConfig()
    public var healthCheck: HealthCheckConfig?
    public var connectionPool: ConnectionPoolConfig = ConnectionPoolConfig()
    public var timeouts: UpstreamTimeouts = UpstreamTimeouts()
    public var tls: UpstreamTLSConfig?
    public var httpVersion: HTTPVersionConfig = HTTPVersionConfig()
    /// One breaker per target; nil keeps breakers off.
    public var circuitBreaker: CircuitBreakerConfig?
    /// Failure-rate ejection from live traffic (passive health).
    public var passiveHealth: PassiveHealthConfig?
    public var location: KDLSourceLocation

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> UpstreamConfig? {
        let id = node.arguments.first?.stringValue
        let p = path.appending(node, id: id ?? "?")
        var r = NodeReader(node, path: p, sink: sink)
        guard r.identifier("upstream") != nil else { r.finish(); return nil }
        var u = UpstreamConfig(id: id!, targets: [], location: node.location)
        for t in r.all("target") {
            if let target = UpstreamTarget.read(t, path: p, sink: sink) { u.targets.append(target) }
        }
        if let block = r.single("targets") {
            var br = NodeReader(block, path: p.appending(block), sink: sink)
            for t in br.all("target") {
                if let target = UpstreamTarget.read(t, path: p.appending(block), sink: sink) { u.targets.append(target) }
            }
            br.finish()
        }
        if let a = r.scalar(["address"]) {
            if let addr = ValueReader(sink: sink, path: p, key: "address").address(a, requireIPLiteral: false) {
                u.targets.append(UpstreamTarget(address: addr, location: a.location))
            }
        }
        if let lb = r.single("load-balancing") { u.loadBalancing = LoadBalancingConfig.read(lb, path: p, sink: sink) }
        if let hc = r.single("health-check") { u.healthCheck = HealthCheckConfig.read(hc, path: p, sink: sink) }
        if let cp = r.single("connection-pool") { u.connectionPool = ConnectionPoolConfig.read(cp, path: p, sink: sink) }
        if let t = r.single("timeouts") { u.timeouts = UpstreamTimeouts.read(t, path: p, sink: sink) }
        if let t = r.single("tls") { u.tls = UpstreamTLSConfig.read(t, path: p, sink: sink) }
        if let h = r.single("http-version") { u.httpVersion = HTTPVersionConfig.read(h, path: p, sink: sink) }
        if let cb = r.single("circuit-breaker") { u.circuitBreaker = CircuitBreakerConfig.read(cb, path: p, sink: sink) }
        if let ph = r.single("passive-health") { u.passiveHealth = PassiveHealthConfig.read(ph, path: p, sink: sink) }
        r.finish()
        if u.targets.isEmpty, !node.children.contains(where: { ["target", "targets", "address"].contains($0.name) }) {
            sink.error(node.location, p, "upstream \"\(u.id)\" has no targets", hint: "add: target \"127.0.0.1:8081\"")
        }
        var seen: [SocketAddressSpec: KDLSourceLocation] = [:]
        for t in u.targets {
            if let first = seen[t.address] {
                sink.error(t.location, p, "target \(t.address) is listed twice (first at line \(first.line))",
                           hint: "give one target a higher weight instead")
            }
            seen[t.address] = t.location
        }
        return u
    }
}

/// One backend server of an upstream.
public struct UpstreamTarget: Sendable, Hashable {
    public var address: SocketAddressSpec
    public var weight: Int = 1
    /// Requests in flight to this target at once; nil means bounded only by the pool.
    public var maxRequests: Int?
    /// Free-form labels; `zone` is used by locality-aware balancing.
    public var metadata: [String: String] = [:]
    public var location: KDLSourceLocation

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> UpstreamTarget? {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var addressValue: KDLValue? = r.argument(0)
        if let prop = r.property("address") {
            if addressValue != nil {
                sink.error(prop.location, r.path, "address given both as a value and as address=", hint: "keep one")
            }
            addressValue = prop
        }
        if let child = r.scalar(["address"]) {
            if addressValue != nil { sink.error(child.location, r.path, "address given twice", hint: "keep one") }
            addressValue = child
        }
        // A property and a child of the same name: one of them would be ignored unseen.
        func either(_ name: String) -> KDLValue? {
            let property = r.property(name)
            let child = r.scalar([name])
            if let property, child != nil {
                sink.error(property.location, r.path, "\(name) given both as \(name)= and as a \(name) child", hint: "keep one")
            }
            return child ?? property
        }
        let weightValue = either("weight")
        let maxValue = either("max-requests")
        var metadata: [String: String] = [:]
        let zoneProperty = r.property("zone")
        if let zone = zoneProperty {
            metadata["zone"] = ValueReader(sink: sink, path: r.path, key: "zone").string(zone)
        }
        if let m = r.single("metadata") {
            var mr = NodeReader(m, path: r.path.appending(m), sink: sink)
            for entry in mr.remainingChildren() {
                if entry.name == "zone", let z = zoneProperty {
                    sink.error(entry.location, mr.path, "zone given both as zone= (line \(z.location.line)) and in metadata", hint: "keep one")
                }
                if let v = NodeReader.scalarValue(of: entry, path: mr.path, sink: sink),
                   let s = ValueReader(sink: sink, path: mr.path, key: entry.name).string(v, allowEmpty: true) {
                    metadata[entry.name] = s
                }
            }
            mr.finish()
        }
        r.finish()
        guard let addressValue else {
            sink.error(node.location, r.path, "target needs an address", hint: "write: target \"10.0.0.1:8080\" weight=1")
            return nil
        }
        guard let address = ValueReader(sink: sink, path: r.path, key: "address").address(addressValue, requireIPLiteral: false) else { return nil }
        if address.port == 0 {
            sink.error(addressValue.location, r.path, "target \(address) has port 0", hint: "give the port the backend listens on")
        }
        var t = UpstreamTarget(address: address, metadata: metadata, location: addressValue.location)
        if let w = weightValue { t.weight = ValueReader(sink: sink, path: r.path, key: "weight").int(w, range: 1...10_000) ?? 1 }
        if let m = maxValue { t.maxRequests = ValueReader(sink: sink, path: r.path, key: "max-requests").int(m, range: 1...1_000_000) }
        return t
    }
}

/// Per-target connection pool bounds.
public struct ConnectionPoolConfig: Sendable, Hashable {
    public var maxConnections: Int = 100
    /// Idle connections kept per target. Defaults to `maxConnections`: idle connections are
    /// closed by `idleTimeout`, never churned under load (the original's 20 made a busy
    /// upstream reconnect constantly).
    public var maxIdle: Int = 100
    public var idleTimeout: Duration = .seconds(60)
    public var maxLifetime: Duration?

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> ConnectionPoolConfig {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var c = ConnectionPoolConfig()
        c.maxConnections = r.int("max-connections", default: c.maxConnections, range: 1...100_000)
        let idle = r.int("max-idle", range: 0...100_000)
        c.maxIdle = idle ?? c.maxConnections
        c.idleTimeout = r.duration("idle-timeout", "idle-timeout-secs", unit: .seconds, default: c.idleTimeout, min: .seconds(1))!
        c.maxLifetime = r.duration("max-lifetime", "max-lifetime-secs", unit: .seconds, min: .seconds(1))
        r.finish()
        if c.maxIdle > c.maxConnections {
            sink.error(node.location, r.path, "max-idle (\(c.maxIdle)) exceeds max-connections (\(c.maxConnections))")
        }
        return c
    }
}

/// Upstream timeouts. `connect-secs`-style names (the documented spelling) are aliases.
public struct UpstreamTimeouts: Sendable, Hashable {
    public var connect: Duration = .seconds(10)
    /// Whole request, from the first byte sent to the last byte received.
    public var request: Duration = .seconds(60)
    /// Longest wait for the next bytes of the response.
    public var read: Duration = .seconds(30)
    /// Longest wait for the upstream to accept more request bytes.
    public var write: Duration = .seconds(30)

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> UpstreamTimeouts {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var t = UpstreamTimeouts()
        t.connect = r.duration("connect", "connect-secs", unit: .seconds, default: t.connect, min: .milliseconds(1))!
        t.request = r.duration("request", "request-secs", unit: .seconds, default: t.request, min: .milliseconds(1))!
        t.read = r.duration("read", "read-secs", unit: .seconds, default: t.read, min: .milliseconds(1))!
        t.write = r.duration("write", "write-secs", unit: .seconds, default: t.write, min: .milliseconds(1))!
        r.finish()
        return t
    }
}

/// TLS to the upstream (HTTPS, optionally mTLS).
public struct UpstreamTLSConfig: Sendable, Hashable {
    public var sni: String?
    public var insecureSkipVerify: Bool = false
    public var caCert: String?
    public var clientCert: String?
    public var clientKey: String?
    public var location: KDLSourceLocation

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> UpstreamTLSConfig {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var t = UpstreamTLSConfig(location: node.location)
        t.sni = r.string("sni")
        t.insecureSkipVerify = r.bool("insecure-skip-verify", default: false)
        t.caCert = r.string("ca-cert")
        t.clientCert = r.string("client-cert")
        t.clientKey = r.string("client-key")
        r.finish()
        if (t.clientCert == nil) != (t.clientKey == nil) {
            sink.error(node.location, r.path, "client-cert and client-key must be given together")
        }
        if t.insecureSkipVerify {
            sink.warning(node.location, r.path, "insecure-skip-verify #true: upstream certificates are not verified")
            // A CA bundle nothing is verified against would be a setting with no effect.
            if t.caCert != nil {
                sink.error(node.location, r.path, "ca-cert has no effect with insecure-skip-verify #true",
                           hint: "remove insecure-skip-verify to verify against ca-cert, or remove ca-cert")
            }
        }
        return t
    }
}

/// Which HTTP versions to speak to the upstream.
public struct HTTPVersionConfig: Sendable, Hashable {
    public var minVersion: Int = 1
    public var maxVersion: Int = 2
    public var h2PingInterval: Duration = .zero
    public var maxH2Streams: Int = 100

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> HTTPVersionConfig {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var h = HTTPVersionConfig()
        h.minVersion = r.int("min-version", default: 1, range: 1...2)
        h.maxVersion = r.int("max-version", default: 2, range: 1...2)
        h.h2PingInterval = r.duration("h2-ping-interval", unit: .seconds, default: .zero)!
        h.maxH2Streams = r.int("max-h2-streams", default: 100, range: 1...10_000)
        r.finish()
        if h.minVersion > h.maxVersion {
            sink.error(node.location, r.path, "min-version \(h.minVersion) is above max-version \(h.maxVersion)")
        }
        return h
    }
}

/// Failure-rate ejection from live traffic: a target whose failure rate over the last
/// `window` outcomes reaches `failureRate` is ejected for `ejectionTime`.
public struct PassiveHealthConfig: Sendable, Hashable {
    public var window: Int = 100
    public var failureRate: Double = 0.5
    public var minRequests: Int = 10
    public var ejectionTime: Duration = .seconds(30)

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> PassiveHealthConfig {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var c = PassiveHealthConfig()
        c.window = r.int("window", default: c.window, range: 2...100_000)
        c.failureRate = r.double("failure-rate", default: c.failureRate, range: 0.01...1.0)
        c.minRequests = r.int("min-requests", default: c.minRequests, range: 1...100_000)
        c.ejectionTime = r.duration("ejection-time-secs", "ejection-time", unit: .seconds, default: c.ejectionTime, min: .seconds(1))!
        r.finish()
        return c
    }
}
