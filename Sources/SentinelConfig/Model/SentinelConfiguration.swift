public import KDL

/// A complete, validated Sentinel configuration: an immutable snapshot that the data plane
/// compiles once and never mutates. A reload builds a new one.
public struct SentinelConfiguration: Sendable {
    public static let supportedSchemaVersion = (major: 1, minor: 0)

    public var schemaVersion: String = "1.0"
    public var system: SystemConfig = SystemConfig()
    public var listeners: [ListenerConfig] = []
    public var routes: [RouteConfig] = []
    public var upstreams: [UpstreamConfig] = []
    public var filters: [FilterConfig] = []
    public var agents: [AgentConfig] = []
    public var limits: LimitsConfig = LimitsConfig()
    public var rateLimits: RateLimitsConfig?
    public var cache: CacheStorageConfig?
    public var observability: ObservabilityConfig = ObservabilityConfig()
    public var waf: WafConfig?
    public var namespaces: [NamespaceConfig] = []
    /// Every file the configuration was read from (the main file first, then includes).
    public var files: [String] = []
    /// Where each singleton block and notable sub-block was written (`"cache"`,
    /// `"observability.metrics"`), for diagnostics about blocks as a whole.
    public var blockLocations: [String: KDLSourceLocation] = [:]

    public init() {}

    public func upstream(_ id: String) -> UpstreamConfig? { upstreams.first { $0.id == id } }
    public func route(_ id: String) -> RouteConfig? { routes.first { $0.id == id } }
}

/// A namespace: an isolated set of listeners, routes, upstreams, filters and agents
/// (`namespace "<id>" { … }`). References resolve service → namespace → exported → global.
public struct NamespaceConfig: Sendable {
    public var id: String
    public var limits: LimitsConfig?
    public var listeners: [ListenerConfig] = []
    public var routes: [RouteConfig] = []
    public var upstreams: [UpstreamConfig] = []
    public var filters: [FilterConfig] = []
    public var agents: [AgentConfig] = []
    public var services: [ServiceConfig] = []
    /// Ids of this namespace's upstreams, filters and agents that other namespaces may use.
    public var exports: [ConfigReference] = []
    public var location: KDLSourceLocation
}

/// A service inside a namespace: its own routes and upstreams, optionally bound to a listener.
public struct ServiceConfig: Sendable {
    public var id: String
    /// A listener of the enclosing namespace (or global) that serves only this service.
    public var listenerReference: ConfigReference?
    public var listeners: [ListenerConfig] = []
    public var limits: LimitsConfig?
    public var routes: [RouteConfig] = []
    public var upstreams: [UpstreamConfig] = []
    public var filters: [FilterConfig] = []
    public var agents: [AgentConfig] = []
    public var location: KDLSourceLocation
}
