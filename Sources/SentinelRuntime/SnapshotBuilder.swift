public import SentinelConfig
import SentinelPolicy
public import SentinelProxy

/// Compiles a validated configuration into the data plane's snapshot: the route table, the
/// listeners, the limits and the redacted configuration the `config` handler shows.
///
/// A library (not part of the `sentinel` executable) because both `sentinel` and the worker role of
/// `sentinel-stack` build the same snapshot from the same configuration.
public enum SnapshotBuilder {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func build(_ config: SentinelConfiguration, instanceID: String, process: ProcessIdentity) throws(Failure) -> ServerSnapshot {
        var specs: [RouteSpec] = []
        var actions: [RouteAction] = []
        for (index, route) in config.routes.enumerated() {
            let m = route.match
            specs.append(
                RouteSpec(
                    id: route.id, priority: route.priority, paths: m.paths, pathPrefixes: m.pathPrefixes,
                    pathRegexes: m.pathRegexes, hosts: m.hosts,
                    headers: m.headers.map { RouteSpec.Header(name: $0.name, value: $0.value) },
                    methods: m.methods,
                    queryParams: m.queryParams.map { RouteSpec.QueryParam(name: $0.name, value: $0.value) },
                    handler: index))
            if let upstreamID = route.upstream, let u = config.upstreams.firstIndex(where: { $0.id == upstreamID }) {
                actions.append(.proxy(ProxyRoute(
                    upstream: u, websocket: route.websocket, maxBodyBytes: route.policies.maxBodySize.map { Int(clamping: $0) },
                    requestHeaders: edits(route.policies.requestHeaders), responseHeaders: edits(route.policies.responseHeaders),
                    retry: route.retryPolicy.map { p in
                        RetryRules(
                            maxAttempts: p.maxAttempts, backoffBase: p.backoffBase, backoffMax: p.backoffMax,
                            retryableStatuses: Set(p.retryableStatusCodes))
                    })))
            } else {
                actions.append(.builtin(builtinKind(route.builtinHandler)))
            }
        }
        let router: Router
        do {
            router = try Router(routes: specs)
        } catch {
            throw Failure(description: "route table: \(error)")
        }
        var listeners = config.listeners.map { l in
            ServerSnapshot.Listener(
                id: l.id, host: l.address.host, port: l.address.port, requestTimeout: l.requestTimeout,
                keepaliveTimeout: l.keepaliveTimeout, keepaliveMaxRequests: l.keepaliveMaxRequests,
                defaultRoute: l.defaultRoute.flatMap { id in config.routes.firstIndex { $0.id == id } })
        }
        if config.blockLocations["observability.metrics"] != nil, config.observability.metrics.enabled {
            let m = config.observability.metrics
            guard case .success(let address) = SocketAddressSpec.parse(m.address) else {
                throw Failure(description: "observability metrics address \(m.address) is not HOST:PORT")
            }
            listeners.append(.init(id: "_metrics", host: address.host, port: address.port, metricsPath: m.path))
        }
        let limits = ServerSnapshot.Limits(
            maxHeaderBytes: config.limits.maxHeaderSizeBytes, maxHeaderCount: config.limits.maxHeaderCount,
            maxURIBytes: config.limits.maxURILengthBytes,
            maxBodyBytes: Int(clamping: config.limits.maxBodySizeBytes),
            maxConnections: min(config.system.maxConnections, config.limits.maxTotalConnections))
        let upstreams = config.upstreams.map { u in
            UpstreamRuntime(
                id: u.id,
                targets: u.targets.map {
                    .init(host: $0.address.host, port: $0.address.port, weight: $0.weight, zone: $0.metadata["zone"])
                },
                connectTimeout: u.timeouts.connect, requestTimeout: u.timeouts.request, readTimeout: u.timeouts.read,
                writeTimeout: u.timeouts.write, maxConnectionsPerTarget: u.connectionPool.maxConnections,
                maxIdlePerTarget: u.connectionPool.maxIdle, idleTimeout: u.connectionPool.idleTimeout,
                maxLifetime: u.connectionPool.maxLifetime, resilience: resilience(u, process: process))
        }
        return ServerSnapshot(
            listeners: listeners, router: router, actions: actions, limits: limits,
            routeCacheSize: config.system.routeCacheSize, configJSON: RedactedConfig.json(config),
            instanceID: instanceID, version: SentinelVersion.full,
            traceIDFormat: config.system.traceIdFormat == .uuid ? .uuid : .tinyflake, upstreams: upstreams,
            accessLog: accessLog(config.observability.logging.accessLog))
    }

    static func accessLog(_ a: ObservabilityConfig.AccessLog?) -> AccessLogSettings? {
        guard let a, a.enabled else { return nil }
        let format: AccessLogSettings.Format
        switch a.format {
        case .json: format = .json
        case .combined: format = .combined
        case .common: format = .common
        }
        return AccessLogSettings(
            path: a.file, format: format, bufferSize: Int(clamping: a.bufferSize), includeTraceID: a.includeTraceID,
            sampleRate: a.sampleRate, sampleErrorsAlways: a.sampleErrorsAlways)
    }

    static func edits(_ m: HeaderModifications) -> HeaderEdits {
        HeaderEdits(
            rename: m.rename.map { ($0.from, $0.to) }, set: m.set.map { ($0.name, $0.value) },
            add: m.add.map { ($0.name, $0.value) }, remove: m.remove)
    }

    /// Balancing, health-check, breaker and passive-health settings of one upstream.
    static func resilience(_ u: UpstreamConfig, process: ProcessIdentity) -> UpstreamResilience {
        let lb = u.loadBalancing
        var options = BalancerOptions(algorithm: algorithm(lb.algorithm))
        options.stickyFallback = algorithm(lb.fallback)
        options.virtualNodes = lb.virtualNodes
        options.loadFactor = lb.loadFactor
        options.subsetSize = lb.subsetSize
        options.choices = lb.choices
        options.loadMetric = lb.loadMetric == "latency" ? .latency : .connections
        options.localZone = lb.localZone ?? process.zone
        options.zonePriority = lb.zonePriority
        options.localityFallback = lb.failLocal ? .failLocal : (lb.fallback == .random ? .random : .roundRobin)
        options.proxyID = process.proxyID
        options.stickyKey = lb.cookieSecret.map { Array($0.utf8) } ?? process.stickyKey
        let hashKey: UpstreamResilience.HashKeySource
        switch lb.hashKey {
        case .clientIP: hashKey = .clientIP
        case .header(let name): hashKey = .header(name)
        case .cookie(let name): hashKey = .cookie(name)
        case .path: hashKey = .path
        }
        let sticky = lb.algorithm != .sticky ? nil : UpstreamResilience.StickyCookieSettings(
            name: lb.cookieName, maxAge: lb.cookieTTL, path: lb.cookiePath, secure: lb.cookieSecure, sameSite: lb.cookieSameSite)
        var check: HealthCheckSpec?
        if let hc = u.healthCheck {
            let kind: HealthCheckSpec.Kind?
            switch hc.kind {
            case .tcp: kind = .tcp
            case .http(let path, let status, let host): kind = .http(path: path, expectedStatus: status, host: host)
            case .grpc, .inference: kind = nil  // rejected by the feature gate
            }
            check = kind.map {
                HealthCheckSpec(
                    kind: $0, interval: hc.interval, timeout: hc.timeout, healthyThreshold: hc.healthyThreshold,
                    unhealthyThreshold: hc.unhealthyThreshold)
            }
        }
        let breaker = u.circuitBreaker.map {
            CircuitBreaker.Configuration(
                failureThreshold: $0.failureThreshold, successThreshold: $0.successThreshold, timeout: $0.timeout,
                halfOpenMaxRequests: $0.halfOpenMaxRequests)
        }
        let passive = u.passiveHealth.map {
            PassiveHealth.Configuration(
                window: $0.window, failureRate: $0.failureRate, minRequests: $0.minRequests, ejectionTime: $0.ejectionTime)
        }
        return UpstreamResilience(
            balancer: options, hashKey: hashKey, stickyCookie: sticky, healthCheck: check, circuitBreaker: breaker,
            passiveHealth: passive)
    }

    static func algorithm(_ a: LoadBalancingConfig.Algorithm) -> BalancingAlgorithm {
        BalancingAlgorithm(rawValue: a.rawValue) ?? .roundRobin
    }

    /// The feature gate admits only these builtins into a running configuration.
    static func builtinKind(_ handler: RouteConfig.BuiltinHandler?) -> BuiltinKind {
        switch handler {
        case .status: return .status
        case .health: return .health
        case .metrics: return .metrics
        case .config: return .config
        case .welcome: return .welcome
        case .upstreams: return .upstreams
        case .notFound, .cachePurge, .cacheStats, nil: return .notFound
        }
    }
}

/// The configuration as the `config` builtin shows it: structure, ids and settings, with no
/// secret (keys, tokens, environment values) and no file contents.
enum RedactedConfig {
    static func json(_ c: SentinelConfiguration) -> String {
        func strings(_ list: [String]) -> JSONValue { .array(list.map { .string($0) }) }
        func int(_ n: Int) -> JSONValue { .number(String(n)) }
        let routes: [JSONValue] = c.routes.map { r in
            var fields: [(String, JSONValue)] = [("id", .string(r.id)), ("priority", int(r.priority))]
            if let h = r.builtinHandler { fields.append(("builtin_handler", .string(h.rawValue))) }
            if let u = r.upstream { fields.append(("upstream", .string(u))) }
            var matches: [(String, JSONValue)] = []
            if !r.match.paths.isEmpty { matches.append(("path", strings(r.match.paths))) }
            if !r.match.pathPrefixes.isEmpty { matches.append(("path_prefix", strings(r.match.pathPrefixes))) }
            if !r.match.pathRegexes.isEmpty { matches.append(("path_regex", strings(r.match.pathRegexes))) }
            if !r.match.hosts.isEmpty { matches.append(("host", strings(r.match.hosts))) }
            if !r.match.methods.isEmpty { matches.append(("method", strings(r.match.methods))) }
            fields.append(("matches", .object(matches)))
            return .object(fields)
        }
        let upstreams: [JSONValue] = c.upstreams.map { u in
            .object([("id", .string(u.id)), ("targets", strings(u.targets.map(\.address.description)))])
        }
        let doc: JSONValue = .object([
            ("schema_version", .string(c.schemaVersion)),
            ("files", int(c.files.count)),
            ("system", .object([
                ("worker_threads", int(c.system.workerThreads)),
                ("max_connections", int(c.system.maxConnections)),
                ("graceful_shutdown_timeout_secs", int(Int(c.system.gracefulShutdownTimeout.components.seconds))),
                ("trace_id_format", .string(c.system.traceIdFormat.rawValue)),
            ])),
            ("listeners", .array(c.listeners.map { l in
                .object([("id", .string(l.id)), ("address", .string(l.address.description)), ("protocol", .string(l.proto.rawValue))])
            })),
            ("routes", .array(routes)),
            ("upstreams", .array(upstreams)),
            ("limits", .object([
                ("max_header_size_bytes", int(c.limits.maxHeaderSizeBytes)),
                ("max_header_count", int(c.limits.maxHeaderCount)),
                ("max_body_size_bytes", int(Int(c.limits.maxBodySizeBytes))),
            ])),
        ])
        return doc.serialized()
    }
}
