public import SentinelRateLimit
import NIOCore
public import SentinelHTTP1
public import SentinelPolicy

/// Everything one generation of the data plane needs, frozen.
///
/// It exists so a reload is one atomic swap of one value: every request reads the snapshot that
/// was current when its head arrived and keeps it to the end, so a request never sees half of
/// an old configuration and half of a new one. The lead's config adapter builds it.
public struct ServerSnapshot: Sendable {
    /// One listening socket. Listener addresses are bound at `start`; a reload may change their
    /// timeouts (looked up by `id`) but not their addresses.
    public struct Listener: Sendable, Equatable {
        public var id: String
        public var host: String
        /// 0 binds an ephemeral port (tests).
        public var port: Int
        /// A client must complete each request head within this time, else 408 and close.
        public var requestTimeout: Duration
        /// An idle keep-alive connection is closed after this time.
        public var keepaliveTimeout: Duration
        /// After this many requests the connection is closed (`Connection: close` on the last one).
        public var keepaliveMaxRequests: Int?
        /// A request body must arrive at least this fast (bytes per second, averaged from the
        /// moment Sentinel starts reading it, time spent waiting on the upstream excluded) once
        /// `bodyRateGrace` has passed; slower → 408 and close. 0: no minimum.
        public var bodyMinRate: Int = 1024
        public var bodyRateGrace: Duration = .seconds(10)
        /// Index into `router.routes` of the route used when nothing matches (else 404).
        public var defaultRoute: Int?
        /// Which route set serves this listener: 0 is `router`, n is `routeSets[n - 1]` (a
        /// namespace or service bound to the listener).
        public var routeSet: Int
        /// A metrics-only listener (`observability { metrics { address; path } }`): this path
        /// serves the Prometheus text, everything else is 404. Routes are not consulted.
        public var metricsPath: String?
        /// An already bound and listening socket to serve on instead of binding `host:port`
        /// (a `sentinel-stack` worker inherits its master's sockets; the master keeps them
        /// across reloads so that no queued connection is ever reset).
        public var inheritedFD: Int32?
        /// An HTTPS listener's TLS contexts and handshake deadline; nil: plain HTTP.
        public var tls: ListenerTLS?
        /// A plain HTTP listener that answers every request with 308 to HTTPS (no routing).
        public var redirectToHTTPS: HTTPSRedirect?
        /// The `Strict-Transport-Security` field line (name, value, CRLF) written on every
        /// response of an HTTPS listener; nil: none. Never set on a plain HTTP listener.
        public var hstsField: [UInt8]?
        /// Every connection starts with a PROXY protocol header (v1 or v2), accepted only from a
        /// trusted peer (`ForwardingPolicy`); its client address replaces the peer's.
        public var proxyProtocol = false

        public init(
            id: String, host: String = "127.0.0.1", port: Int, requestTimeout: Duration = .seconds(60),
            keepaliveTimeout: Duration = .seconds(75), keepaliveMaxRequests: Int? = nil, defaultRoute: Int? = nil,
            metricsPath: String? = nil, routeSet: Int = 0
        ) {
            self.metricsPath = metricsPath
            self.routeSet = routeSet
            self.defaultRoute = defaultRoute
            self.id = id
            self.host = host
            self.port = port
            self.requestTimeout = requestTimeout
            self.keepaliveTimeout = keepaliveTimeout
            self.keepaliveMaxRequests = keepaliveMaxRequests
        }
    }

    /// Request-size bounds with the original's secure defaults (§3.8).
    public struct Limits: Sendable, Equatable {
        /// The request head parser's bounds (header section, count, field name and value, URI),
        /// used as they are: built once from `limits { … }` by the snapshot builder, never copied
        /// field by field on the way (a hand copy is how two of them once fell off).
        public var request: HTTP1Limits
        public var maxBodyBytes: Int
        /// Open client connections across all listeners; over it new connections are closed at once.
        public var maxConnections: Int
        /// TLS handshakes in flight in this process; a connection beyond it waits unread
        /// (`HandshakeGate`) until one ends, within its handshake deadline.
        public var maxTLSHandshakes: Int = 1024

        public init(request: HTTP1Limits = HTTP1Limits(), maxBodyBytes: Int = 10 * 1024 * 1024, maxConnections: Int = 10_000) {
            self.request = request
            self.maxBodyBytes = maxBodyBytes
            self.maxConnections = maxConnections
        }
    }

    public var listeners: [Listener] { didSet { resolveRoutes() } }
    public var router: Router { didSet { resolveRoutes() } }
    /// Indexed by `RouteSpec.handler`.
    public var actions: [RouteAction] { didSet { resolveRoutes() } }
    /// Each action's filter chain, indexed like `actions` (missing entries: no filters).
    public var filterChains: [FilterChain] = [] { didSet { resolveRoutes() } }
    /// Every rate limiter of the snapshot's filters (for the metrics scrape).
    public var rateLimiters: [RateLimiter] = []
    /// The Redis-backed ones among them (their health and call counters).
    public var redisRateLimiters: [RedisRateLimiter] = []
    /// The databases of the snapshot's geo filters (for the metrics scrape and their logs).
    public var geoSources: [GeoSource] = []
    /// Where the snapshot's rate-limit filters log limited requests (attached when it goes into service).
    public var rateLimitEvents = RateLimitEvents()
    /// The agents of this configuration; their filters hold the same handles. The server binds
    /// each handle to its agent's connection pool when it installs the snapshot.
    public var agents: [AgentHandle] = []
    public var limits: Limits { didSet { resolveRoutes() } }
    /// Route-match cache entries per event loop.
    public var routeCacheSize: Int
    /// Served by the `config` builtin; the caller has already redacted secrets.
    public var configJSON: String
    public var instanceID: String
    public var version: String
    public var traceIDFormat: TraceIDFormat
    /// Indexed by `ProxyRoute.upstream`.
    public var upstreams: [UpstreamRuntime] = [] {
        didSet {
            upstreamRefs = upstreams.map(UpstreamRef.init)
            resolveRoutes()
        }
    }
    /// `upstreams`, each behind one reference: what the data plane holds per exchange. Reading an
    /// element of `[UpstreamRuntime]` copies the whole value (a dozen reference counts), several
    /// times per request; reading `upstreamRefs[i].runtime` copies one reference.
    public private(set) var upstreamRefs: [UpstreamRef] = []
    /// nil: no access log.
    public var accessLog: AccessLogSettings?
    /// Route sets beyond `router` (namespaces and services bound to listeners).
    public var routeSets: [Router] = [] { didSet { resolveRoutes() } }
    /// `Via`, and whose forwarding fields are believed (`system { via; trusted-proxies }`).
    public var forwarding = ForwardingPolicy()
    /// Which event loop serves the data listeners (`system { data-path }`). Fixed when the
    /// server starts: a reload that changes it is refused by the caller.
    public var dataPath: DataPath = .nio

    /// The host of the data listeners' connections.
    public enum DataPath: String, Sendable, Equatable, CaseIterable {
        /// SwiftNIO channels (`ProxyConnectionHandler` in a pipeline).
        case nio
        /// Sentinel's own reactors (`HTTP1ReactorDriver`), one per worker thread.
        case reactor
    }

    /// Every route of every set resolved to what it does (`Admission/RouteTable.swift`), kept
    /// in step with the fields above: the request path reads these, never `actions` by index.
    private(set) var resolvedSets: [[ResolvedRoute]] = []
    /// `listeners[i]`'s routes, resolved.
    private(set) var listenerRoutes: [ListenerRoutes] = []

    private mutating func resolveRoutes() {
        (resolvedSets, listenerRoutes) = Self.resolveRoutes(
            listeners: listeners, sets: [router] + routeSets, actions: actions, filters: filterChains, upstreams: upstreamRefs,
            limits: limits)
    }

    /// The routes listener `id` serves (an unknown id: the main set, no default route).
    func routes(forListener id: String) -> ListenerRoutes {
        if let i = listeners.firstIndex(where: { $0.id == id }) { return listenerRoutes[i] }
        return Self.routes(for: nil, sets: [router] + routeSets, resolved: resolvedSets)
    }

    /// The router of route set `set` (0 = `router`).
    public func router(forSet set: Int) -> Router {
        set == 0 || set > routeSets.count ? router : routeSets[set - 1]
    }

    public init(
        listeners: [Listener], router: Router, actions: [RouteAction], limits: Limits = .init(),
        routeCacheSize: Int = 1000, configJSON: String = "{}", instanceID: String, version: String,
        traceIDFormat: TraceIDFormat = .tinyflake, upstreams: [UpstreamRuntime] = [], accessLog: AccessLogSettings? = nil,
        routeSets: [Router] = []
    ) {
        self.routeSets = routeSets
        self.accessLog = accessLog
        self.upstreams = upstreams
        upstreamRefs = upstreams.map(UpstreamRef.init)
        self.listeners = listeners
        self.router = router
        self.actions = actions
        self.limits = limits
        self.routeCacheSize = routeCacheSize
        self.configJSON = configJSON
        self.instanceID = instanceID
        self.version = version
        self.traceIDFormat = traceIDFormat
        resolveRoutes()
    }

    func listener(id: String) -> Listener? { listeners.first { $0.id == id } }
}

/// One upstream's settings, shared by reference (see `ServerSnapshot.upstreamRefs`).
public final class UpstreamRef: Sendable {
    public let runtime: UpstreamRuntime
    public init(_ runtime: UpstreamRuntime) { self.runtime = runtime }
}

/// What a matched route does.
public enum RouteAction: Sendable, Equatable {
    case builtin(BuiltinKind)
    /// Forward to `upstreams[upstream]` of the snapshot.
    case proxy(ProxyRoute)
}

/// The builtin handlers of §5.13 (`upstreams` reports upstream health; none of them proxies).
public enum BuiltinKind: String, Sendable, Equatable, CaseIterable {
    case status, health, notFound, welcome, config, metrics, upstreams
}

/// Trace-id flavour (§7.3).
public enum TraceIDFormat: String, Sendable, Equatable {
    /// 11 Base58 characters: 3 from the seconds timestamp, 8 random. Short and roughly time-sortable.
    case tinyflake
    /// RFC 4122 version 4.
    case uuid
}

/// A route that forwards to an upstream.
public struct ProxyRoute: Sendable, Equatable {
    public var upstream: Int
    /// Allow `Upgrade: websocket` (otherwise 403).
    public var websocket: Bool
    /// Request body cap for this route; nil means the snapshot's `limits.maxBodyBytes`.
    public var maxBodyBytes: Int?
    /// `policies { request-headers { … } }`, applied to the request sent upstream.
    public var requestHeaders: HeaderEdits
    /// `policies { response-headers { … } }`, applied to the response sent to the client.
    public var responseHeaders: HeaderEdits
    /// `retry-policy`; nil means the default (other targets on connect failures only).
    public var retry: RetryRules?
    /// `fallback { … }`: other upstreams to fail over to.
    public var fallback: FallbackPlan?
    /// `policies { timeout-secs }`: the route's own upstream timeouts (a `timeout` filter's win).
    public var timeouts: RouteTimeouts?
    /// `policies { failure-mode }`: what the route's filters do when they cannot decide, unless
    /// a filter sets its own (closed: refuse the request).
    public var failureMode: FilterFailureMode = .closed

    public init(
        upstream: Int, websocket: Bool = false, maxBodyBytes: Int? = nil, requestHeaders: HeaderEdits = .init(),
        responseHeaders: HeaderEdits = .init(), retry: RetryRules? = nil, fallback: FallbackPlan? = nil
    ) {
        self.retry = retry
        self.fallback = fallback
        self.upstream = upstream
        self.websocket = websocket
        self.maxBodyBytes = maxBodyBytes
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
    }
}

/// An upstream as the data plane uses it: addresses resolved where possible, timeouts and pool
/// bounds. Built once per snapshot.
public struct UpstreamRuntime: Sendable, Equatable {
    public struct Target: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var weight: Int
        /// Zone label for locality-aware balancing.
        public var zone: String?

        public init(host: String, port: Int, weight: Int = 1, zone: String? = nil) {
            self.host = host
            self.port = port
            self.weight = weight
            self.zone = zone
        }

        /// `host:port` as shown in logs and metrics.
        public var display: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    public var id: String
    public var targets: [Target]
    public var connectTimeout: Duration
    /// Whole exchange, from the request's first byte sent to the response's last byte.
    public var requestTimeout: Duration
    /// Longest silence while waiting for response bytes.
    public var readTimeout: Duration
    /// Longest time the upstream may refuse to accept request bytes.
    public var writeTimeout: Duration
    public var maxConnectionsPerTarget: Int
    public var maxIdlePerTarget: Int
    public var idleTimeout: Duration
    public var maxLifetime: Duration?
    /// Balancing, health checks, breakers and passive health (§5.6–§5.8).
    public var resilience: UpstreamResilience
    /// TLS to the targets (`tls { … }`); nil: plain TCP. Not part of `==`: balancers do not
    /// depend on it, and a context is rebuilt with every snapshot (pooled connections check it).
    public var tls: UpstreamTLS?
    /// Stamped by `ProxyServer` on start and on every reload, so per-loop state built from an
    /// upstream (balancers) can tell a new generation from the one it was built for. Not part of `==`.
    public internal(set) var generation: UInt64 = 0
    /// The metric slot of each target (`MetricsRegistry`), stamped with `generation`; empty
    /// before stamping (then nothing per target is recorded). Not part of `==`.
    public internal(set) var metricSlots: [MetricSlot] = []
    /// `targets[i].display`, computed once: the keys of health state and metrics.
    public let targetAddresses: [String]
    /// `targets` as connect addresses: IP literals resolved once here, names at connect time.
    let addresses: [UpstreamAddress]

    public static func == (a: Self, b: Self) -> Bool {
        a.id == b.id && a.targets == b.targets && a.connectTimeout == b.connectTimeout && a.requestTimeout == b.requestTimeout
            && a.readTimeout == b.readTimeout && a.writeTimeout == b.writeTimeout
            && a.maxConnectionsPerTarget == b.maxConnectionsPerTarget && a.maxIdlePerTarget == b.maxIdlePerTarget
            && a.idleTimeout == b.idleTimeout && a.maxLifetime == b.maxLifetime && a.resilience == b.resilience
    }

    public init(
        id: String, targets: [Target], connectTimeout: Duration = .seconds(10), requestTimeout: Duration = .seconds(60),
        readTimeout: Duration = .seconds(30), writeTimeout: Duration = .seconds(30), maxConnectionsPerTarget: Int = 100,
        maxIdlePerTarget: Int = 100, idleTimeout: Duration = .seconds(60), maxLifetime: Duration? = nil,
        resilience: UpstreamResilience = UpstreamResilience(), tls: UpstreamTLS? = nil
    ) {
        self.tls = tls
        self.id = id
        self.targets = targets
        self.resilience = resilience
        targetAddresses = targets.map(\.display)
        addresses = targets.map { t in
            if let a = try? SocketAddress(ipAddress: t.host, port: t.port) { return .resolved(a) }
            return .name(host: t.host, port: t.port)
        }
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.readTimeout = readTimeout
        self.writeTimeout = writeTimeout
        self.maxConnectionsPerTarget = maxConnectionsPerTarget
        self.maxIdlePerTarget = maxIdlePerTarget
        self.idleTimeout = idleTimeout
        self.maxLifetime = maxLifetime
    }

    var poolLimits: UpstreamPool.Limits {
        UpstreamPool.Limits(
            maxConnections: maxConnectionsPerTarget, maxIdle: maxIdlePerTarget, idleTimeout: idleTimeout,
            maxLifetime: maxLifetime, connectTimeout: connectTimeout)
    }
}

/// Cross-upstream failover of a route (`fallback { … }`): when the primary upstream has no
/// healthy target, refuses connections, or answers one of `onErrorCodes`, the request (if it
/// was never sent, or its body is still unread) goes to the next upstream of the list.
public struct FallbackPlan: Sendable, Equatable {
    /// Indices into `ServerSnapshot.upstreams`, in order.
    public var upstreams: [Int]
    public var maxAttempts: Int
    public var onHealthFailure: Bool
    public var onConnectionError: Bool
    public var onErrorCodes: Set<Int>

    public init(upstreams: [Int], maxAttempts: Int = 3, onHealthFailure: Bool = true, onConnectionError: Bool = true, onErrorCodes: Set<Int> = []) {
        self.upstreams = upstreams
        self.maxAttempts = maxAttempts
        self.onHealthFailure = onHealthFailure
        self.onConnectionError = onConnectionError
        self.onErrorCodes = onErrorCodes
    }
}
