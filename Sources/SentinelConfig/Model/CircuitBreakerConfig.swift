import KDL

/// Per-target (or per-agent) circuit breaker: closed → open after `failureThreshold`
/// consecutive failures; open → half-open after `timeout`; half-open lets
/// `halfOpenMaxRequests` trials through and closes after `successThreshold` successes.
public struct CircuitBreakerConfig: Sendable, Hashable {
    public var failureThreshold: Int = 5
    public var successThreshold: Int = 2
    public var timeout: Duration = .seconds(30)
    public var halfOpenMaxRequests: Int = 1

    public init() {}

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> CircuitBreakerConfig {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var c = CircuitBreakerConfig()
        c.failureThreshold = r.int("failure-threshold", default: c.failureThreshold, range: 1...10_000)
        c.successThreshold = r.int("success-threshold", default: c.successThreshold, range: 1...10_000)
        c.timeout = r.duration("timeout-seconds", "timeout-secs", unit: .seconds, default: c.timeout, min: .seconds(1))!
        c.halfOpenMaxRequests = r.int("half-open-max-requests", default: c.halfOpenMaxRequests, range: 1...10_000)
        r.finish()
        return c
    }
}
