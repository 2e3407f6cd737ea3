public import SentinelPolicy

/// What the data plane needs to pick targets and keep them healthy (spec §5.6–§5.8), per upstream.
///
/// It exists as one plain value inside `UpstreamRuntime` so the config adapter (`SnapshotBuilder`)
/// fills it once per snapshot, and so every consumer (`TargetSelector`, `UpstreamHealth`,
/// `HealthChecker`) reads the same frozen settings. A default value means "round robin, no health
/// checks, no breaker, no passive health": the upstream behaves exactly as before.
public struct UpstreamResilience: Sendable, Equatable {
    /// Algorithm and tunables, including the process-wide sticky key, proxy id and zone.
    public var balancer: BalancerOptions
    /// What the hashing algorithms (ip_hash, consistent_hash, maglev) hash.
    public var hashKey: HashKeySource
    /// Cookie attributes for sticky sessions; nil unless the algorithm is `sticky`.
    public var stickyCookie: StickyCookieSettings?
    /// Active probes; nil means no active checks (targets stay `unknown`, which is eligible).
    public var healthCheck: HealthCheckSpec?
    /// One breaker per target; nil keeps breakers off.
    public var circuitBreaker: CircuitBreaker.Configuration?
    /// Failure-rate ejection from live traffic; nil keeps it off.
    public var passiveHealth: PassiveHealth.Configuration?

    public init(
        balancer: BalancerOptions = BalancerOptions(), hashKey: HashKeySource = .clientIP,
        stickyCookie: StickyCookieSettings? = nil, healthCheck: HealthCheckSpec? = nil,
        circuitBreaker: CircuitBreaker.Configuration? = nil, passiveHealth: PassiveHealth.Configuration? = nil
    ) {
        self.balancer = balancer
        self.hashKey = hashKey
        self.stickyCookie = stickyCookie
        self.healthCheck = healthCheck
        self.circuitBreaker = circuitBreaker
        self.passiveHealth = passiveHealth
    }

    /// Whether any per-target health state is kept: without it the selector skips `UpstreamHealth`
    /// entirely (no lock on the request path).
    public var isMonitored: Bool { healthCheck != nil || circuitBreaker != nil || passiveHealth != nil }

    /// The request attribute the hashing algorithms hash.
    public enum HashKeySource: Sendable, Equatable {
        case clientIP
        /// The value of this request header (name compared case-insensitively by the caller).
        case header(String)
        /// The value of this cookie.
        case cookie(String)
        case path
    }

    /// `Set-Cookie` attributes of the sticky cookie (the value comes from `Pick.setCookie`).
    public struct StickyCookieSettings: Sendable, Equatable {
        public var name: String
        public var maxAge: Duration
        public var path: String
        public var secure: Bool
        /// "strict", "lax" or "none".
        public var sameSite: String

        public init(name: String = "SERVERID", maxAge: Duration = .seconds(3600), path: String = "/", secure: Bool = true, sameSite: String = "lax") {
            self.name = name
            self.maxAge = maxAge
            self.path = path
            self.secure = secure
            self.sameSite = sameSite
        }

        /// The complete `Set-Cookie` field value for `value`.
        public func setCookieValue(_ value: String) -> String {
            let site = sameSite.prefix(1).uppercased() + sameSite.dropFirst()
            return "\(name)=\(value); Path=\(path); Max-Age=\(maxAge.components.seconds); HttpOnly"
                + (secure ? "; Secure" : "") + "; SameSite=\(site)"
        }
    }
}

/// An active health check as the data plane runs it (§5.7). Inference checks are not built yet
/// (the feature gate rejects them), so TCP, HTTP and gRPC exist here.
public struct HealthCheckSpec: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The target accepts a TCP connection.
        case tcp
        /// `GET path` answers `expectedStatus`; `host` is the Host field (nil: the target address).
        case http(path: String, expectedStatus: Int, host: String?)
        /// `grpc.health.v1.Health/Check` for `service` ("" = the whole server) over h2c answers
        /// SERVING; `authority` is the `:authority` field (nil: the target address).
        case grpc(service: String, authority: String?)
    }

    public var kind: Kind
    public var interval: Duration
    public var timeout: Duration
    public var healthyThreshold: Int
    public var unhealthyThreshold: Int

    public init(kind: Kind = .tcp, interval: Duration = .seconds(10), timeout: Duration = .seconds(5), healthyThreshold: Int = 2, unhealthyThreshold: Int = 3) {
        self.kind = kind
        self.interval = interval
        self.timeout = timeout
        self.healthyThreshold = healthyThreshold
        self.unhealthyThreshold = unhealthyThreshold
    }
}
