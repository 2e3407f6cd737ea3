public import SentinelConfig
import KDL
import SentinelHTTP1
import SentinelPolicy
public import SentinelProxy
import SentinelRateLimit

/// Compiles a validated configuration into the data plane's snapshot: the route table, the
/// listeners, the limits and the redacted configuration the `config` handler shows.
///
/// A library (not part of the `sentinel` executable) because both `sentinel` and the worker role of
/// `sentinel-stack` build the same snapshot from the same configuration.
public enum SnapshotBuilder {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Where names resolve from one place in the configuration: service → namespace → exported
    /// → global (the validator has already checked that every reference resolves).
    struct Scope {
        var upstreams: [[String: Int]]
        /// Every namespace's and service's own upstreams by qualified id (`ns:id`, `ns:svc:id`).
        var qualified: [String: Int] = [:]
        /// Prefix for route ids in this scope ("" globally, "ns/" or "ns/svc/"), so route ids stay
        /// unique in metrics, logs and route sets.
        var prefix: String
        /// Filters by id, looked up in this order (service → namespace → exported → global).
        var filters: [[String: FilterConfig]] = []
        /// Every namespace's and service's own filters by qualified id (`ns:id`, `ns:svc:id`).
        var qualifiedFilters: [String: FilterConfig] = [:]

        /// The filter `id` names from this scope (the validator has checked it resolves).
        func filter(_ id: String) -> FilterConfig? {
            if id.contains(":") { return qualifiedFilters[id] }
            for map in filters { if let f = map[id] { return f } }
            return nil
        }

        /// A qualified id (`ns:id`, `ns:svc:id`) names exactly one upstream; an unqualified one is
        /// looked up service → namespace → exported → global.
        func upstream(_ id: String) -> Int? {
            if id.contains(":") { return qualified[id] }
            for map in upstreams { if let i = map[id] { return i } }
            return nil
        }
    }

    public static func build(_ config: SentinelConfiguration, instanceID: String, process: ProcessIdentity) throws(Failure) -> ServerSnapshot {
        // Rate limiters first: their tables' layout in the (shared) region is the configuration's order.
        let rateLimits: RateLimitSet
        let rateLimitEvents = RateLimitEvents()
        do {
            let region = process.rateLimitRegion ?? RateLimitRegion.makePrivate(
                bytes: RateLimitRegion.wordsNeeded(capacities: RateLimitBuilder.capacities(config)) * 8)
            rateLimits = try RateLimitBuilder.build(config, region: region)
        } catch {
            throw Failure(description: error.description)
        }
        // Upstreams of every scope, flattened; namespaced ones get qualified ids.
        var upstreamConfigs: [(id: String, config: UpstreamConfig)] = []
        func add(_ list: [UpstreamConfig], prefix: String) -> [String: Int] {
            var map: [String: Int] = [:]
            for u in list {
                map[u.id] = upstreamConfigs.count
                upstreamConfigs.append((prefix + u.id, u))
            }
            return map
        }
        let globalUpstreams = add(config.upstreams, prefix: "")
        var namespaceUpstreams: [String: [String: Int]] = [:]
        var serviceUpstreams: [String: [String: Int]] = [:]
        var exported: [String: Int] = [:]
        var qualified: [String: Int] = [:]
        for ns in config.namespaces {
            let map = add(ns.upstreams, prefix: ns.id + "/")
            namespaceUpstreams[ns.id] = map
            for (id, i) in map { qualified[ns.id + ":" + id] = i }
            for e in ns.exports where e.kind == .upstream { if let i = map[e.id] { exported[e.id] = i } }
            for svc in ns.services {
                let svcMap = add(svc.upstreams, prefix: ns.id + "/" + svc.id + "/")
                serviceUpstreams[ns.id + "/" + svc.id] = svcMap
                for (id, i) in svcMap { qualified[ns.id + ":" + svc.id + ":" + id] = i }
            }
        }

        // Filters of every scope, by id and by qualified id.
        func filterMap(_ list: [FilterConfig]) -> [String: FilterConfig] {
            Dictionary(list.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        }
        let globalFilters = filterMap(config.filters)
        var exportedFilters: [String: FilterConfig] = [:]
        var qualifiedFilters: [String: FilterConfig] = [:]
        for ns in config.namespaces {
            for f in ns.filters { qualifiedFilters[ns.id + ":" + f.id] = f }
            for e in ns.exports where e.kind == .filter { if let f = ns.filters.first(where: { $0.id == e.id }) { exportedFilters[e.id] = f } }
            for svc in ns.services { for f in svc.filters { qualifiedFilters[ns.id + ":" + svc.id + ":" + f.id] = f } }
        }

        let agentHandles = AgentSettingsBuilder.handles(config)
        // One database source per geo filter (all scopes), shared by every route that uses it.
        var geoSources: [KDLSourceLocation: GeoSource] = [:]
        var geoList: [GeoSource] = []
        func addGeo(_ list: [FilterConfig], prefix: String) {
            for f in list {
                guard case .geo(let g) = f.kind, g.databaseType == .maxmind else { continue }
                let source = GeoSource(id: prefix + f.id, path: g.databasePath)
                geoSources[f.location] = source
                geoList.append(source)
            }
        }
        addGeo(config.filters, prefix: "")
        for ns in config.namespaces {
            addGeo(ns.filters, prefix: ns.id + ":")
            for svc in ns.services { addGeo(svc.filters, prefix: ns.id + ":" + svc.id + ":") }
        }
        var actions: [RouteAction] = []
        var filterChains: [FilterChain] = []
        var routeSets: [Router] = []
        var routeSetIDs: [[String]] = []
        func makeSet(_ groups: [(routes: [RouteConfig], scope: Scope)]) throws(Failure) -> Int {
            var specs: [RouteSpec] = []
            for (routes, scope) in groups {
                for route in routes {
                    specs.append(routeSpec(route, id: scope.prefix + route.id, handler: actions.count))
                    actions.append(action(route, scope: scope))
                    filterChains.append(
                        try FilterChainBuilder.chain(route, scope: scope, rateLimits: rateLimits, events: rateLimitEvents, agents: agentHandles,
                                                 geo: geoSources))
                }
            }
            do {
                routeSets.append(try Router(routes: specs))
            } catch {
                throw Failure(description: "route table: \(error)")
            }
            routeSetIDs.append(specs.map(\.id))
            return routeSets.count - 1
        }

        let globalScope = Scope(
            upstreams: [globalUpstreams, exported], qualified: qualified, prefix: "", filters: [globalFilters, exportedFilters],
            qualifiedFilters: qualifiedFilters)
        _ = try makeSet([(config.routes, globalScope)])
        var namespaceSet: [String: Int] = [:]
        var serviceSet: [String: Int] = [:]
        for ns in config.namespaces {
            let nsScope = Scope(
                upstreams: [namespaceUpstreams[ns.id] ?? [:], exported, globalUpstreams], qualified: qualified, prefix: ns.id + "/",
                filters: [filterMap(ns.filters), exportedFilters, globalFilters], qualifiedFilters: qualifiedFilters)
            var groups: [(routes: [RouteConfig], scope: Scope)] = [(ns.routes, nsScope)]
            for svc in ns.services {
                let key = ns.id + "/" + svc.id
                let svcScope = Scope(
                    upstreams: [serviceUpstreams[key] ?? [:]] + nsScope.upstreams, qualified: qualified, prefix: key + "/",
                    filters: [filterMap(svc.filters)] + nsScope.filters, qualifiedFilters: qualifiedFilters)
                groups.append((svc.routes, svcScope))
                if !svc.listeners.isEmpty || svc.listenerReference != nil {
                    serviceSet[key] = try makeSet([(svc.routes, svcScope)])
                }
            }
            namespaceSet[ns.id] = try makeSet(groups)
        }

        func listener(_ l: ListenerConfig, set: Int, prefix: String) throws(Failure) -> ServerSnapshot.Listener {
            var listener = ServerSnapshot.Listener(
                id: l.id, host: l.address.host, port: l.address.port, requestTimeout: l.requestTimeout,
                keepaliveTimeout: l.keepaliveTimeout, keepaliveMaxRequests: l.keepaliveMaxRequests,
                defaultRoute: l.defaultRoute.flatMap { id in routeSetIDs[set].firstIndex(of: prefix + id) }, routeSet: set)
            listener.bodyMinRate = l.bodyMinRate
            listener.bodyRateGrace = l.bodyRateGrace
            listener.proxyProtocol = l.proxyProtocol
            do {
                listener.tls = try ListenerTLSBuilder.build(l, ticketKeys: process.ticketKeys)
            } catch {
                throw Failure(description: error.description)
            }
            // Only over TLS (RFC 6797 §7.2): the loader refuses hsts on a plain HTTP listener.
            if let h = l.hsts, listener.tls != nil { listener.hstsField = Array("Strict-Transport-Security: \(h.value)\r\n".utf8) }
            listener.redirectToHTTPS = l.redirectToHTTPS.map { HTTPSRedirect(port: $0.port, host: $0.host) }
            return listener
        }
        var listeners: [ServerSnapshot.Listener] = []
        for l in config.listeners {
            let set = l.namespace.flatMap { namespaceSet[$0] } ?? 0
            listeners.append(try listener(l, set: set, prefix: l.namespace.map { $0 + "/" } ?? ""))
        }
        for ns in config.namespaces {
            let set = namespaceSet[ns.id] ?? 0
            for l in ns.listeners { listeners.append(try listener(l, set: set, prefix: ns.id + "/")) }
            for svc in ns.services {
                let key = ns.id + "/" + svc.id
                guard let set = serviceSet[key] else { continue }
                for l in svc.listeners { listeners.append(try listener(l, set: set, prefix: key + "/")) }
                if let ref = svc.listenerReference, let i = listeners.firstIndex(where: { $0.id == ref.id }) {
                    listeners[i].routeSet = set
                    listeners[i].defaultRoute = nil
                }
            }
        }
        if config.blockLocations["observability.metrics"] != nil, config.observability.metrics.enabled {
            let m = config.observability.metrics
            guard case .success(let address) = SocketAddressSpec.parse(m.address) else {
                throw Failure(description: "observability metrics address \(m.address) is not HOST:PORT")
            }
            listeners.append(.init(id: "_metrics", host: address.host, port: address.port, metricsPath: m.path))
        }
        var upstreams: [UpstreamRuntime] = []
        for (id, u) in upstreamConfigs {
            let tls: UpstreamTLS?
            do {
                tls = try UpstreamTLSBuilder.build(u, id: id)
            } catch {
                throw Failure(description: error.description)
            }
            upstreams.append(UpstreamRuntime(
                id: id,
                targets: u.targets.map {
                    .init(host: $0.address.host, port: $0.address.port, weight: $0.weight, zone: $0.metadata["zone"])
                },
                connectTimeout: u.timeouts.connect, requestTimeout: u.timeouts.request, readTimeout: u.timeouts.read,
                writeTimeout: u.timeouts.write, maxConnectionsPerTarget: u.connectionPool.maxConnections,
                maxIdlePerTarget: u.connectionPool.maxIdle, idleTimeout: u.connectionPool.idleTimeout,
                maxLifetime: u.connectionPool.maxLifetime, resilience: resilience(u, process: process), tls: tls))
        }
        var snapshot = ServerSnapshot(
            listeners: listeners, router: routeSets[0], actions: actions, limits: limits(config),
            routeCacheSize: config.system.routeCacheSize, configJSON: RedactedConfig.json(config),
            instanceID: instanceID, version: SentinelVersion.full,
            traceIDFormat: config.system.traceIdFormat == .uuid ? .uuid : .tinyflake, upstreams: upstreams,
            accessLog: accessLog(config.observability.logging.accessLog), routeSets: Array(routeSets.dropFirst()))
        snapshot.filterChains = filterChains
        snapshot.rateLimiters = rateLimits.all
        snapshot.geoSources = geoList
        snapshot.redisRateLimiters = Array(rateLimits.redis.values)
        snapshot.rateLimitEvents = rateLimitEvents
        snapshot.agents = agentHandles.values.sorted { $0.agentID < $1.agentID }
        snapshot.dataPath = config.system.dataPath == .reactor ? .reactor : .nio
        snapshot.forwarding = ForwardingPolicy(
            via: config.system.via,
            trustedProxies: config.system.trustedProxies.map { .init(address: $0.address, prefixLength: $0.prefixLength) })
        return snapshot
    }

    /// `limits { … }` and `system { max-connections }` as the data plane uses them. The request
    /// head bounds go into the parser's own `HTTP1Limits` here, once, with every argument named
    /// (no field of either side is left to a default by omission).
    static func limits(_ config: SentinelConfiguration) -> ServerSnapshot.Limits {
        let l = config.limits
        var limits = ServerSnapshot.Limits(
            request: HTTP1Limits(
                maxHeaderBytes: l.maxHeaderSizeBytes, maxHeaderCount: l.maxHeaderCount,
                maxHeaderNameBytes: l.maxHeaderNameBytes, maxHeaderValueBytes: l.maxHeaderValueBytes,
                maxURIBytes: l.maxURILengthBytes, maxChunkExtensionBytes: HTTP1Limits().maxChunkExtensionBytes),
            maxBodyBytes: Int(clamping: l.maxBodySizeBytes),
            maxConnections: min(config.system.maxConnections, l.maxTotalConnections))
        limits.maxTLSHandshakes = l.maxTLSHandshakes
        return limits
    }

    static func routeSpec(_ route: RouteConfig, id: String, handler: Int) -> RouteSpec {
        let m = route.match
        return RouteSpec(
            id: id, priority: route.priority, paths: m.paths, pathPrefixes: m.pathPrefixes,
            pathRegexes: m.pathRegexes, hosts: m.hosts,
            headers: m.headers.map { RouteSpec.Header(name: $0.name, value: $0.value) },
            methods: m.methods,
            queryParams: m.queryParams.map { RouteSpec.QueryParam(name: $0.name, value: $0.value) },
            handler: handler, matchesEverything: route.catchAll)
    }

    static func action(_ route: RouteConfig, scope: Scope) -> RouteAction {
        guard let upstreamID = route.upstream, let u = scope.upstream(upstreamID) else {
            return .builtin(builtinKind(route.builtinHandler))
        }
        var proxy = ProxyRoute(
            upstream: u, websocket: route.websocket, maxBodyBytes: route.policies.maxBodySize.map { Int(clamping: $0) },
            requestHeaders: edits(route.policies.requestHeaders), responseHeaders: edits(route.policies.responseHeaders),
            retry: route.retryPolicy.map { p in
                RetryRules(
                    maxAttempts: p.maxAttempts, backoffBase: p.backoffBase, backoffMax: p.backoffMax,
                    retryableStatuses: Set(p.retryableStatusCodes))
            },
            fallback: route.fallback.map { f in
                FallbackPlan(
                    upstreams: f.upstreams.compactMap { scope.upstream($0.upstream.id) },
                    maxAttempts: f.maxAttempts, onHealthFailure: f.triggers.onHealthFailure,
                    onConnectionError: f.triggers.onConnectionError, onErrorCodes: Set(f.triggers.onErrorCodes))
            })
        // `policies { timeout-secs }`: the upstream's read and write timeouts, for this route.
        proxy.timeouts = route.policies.timeout.map { RouteTimeouts(read: $0, write: $0) }
        proxy.failureMode = route.policies.failureMode == .open ? .open : .closed
        return .proxy(proxy)
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
        func entry(_ f: HeaderModifications.Field) -> HeaderEdits.Entry {
            HeaderEdits.Entry(name: f.name, value: f.value, parts: f.template.map { $0.map(part) })
        }
        return HeaderEdits(rename: m.rename.map { ($0.from, $0.to) }, set: m.set.map(entry), add: m.add.map(entry), remove: m.remove)
    }

    static func part(_ p: HeaderValuePart) -> HeaderEdits.ValuePart {
        switch p {
        case .literal(let s): .literal(Array(s.utf8))
        case .variable(let v): .variable(variable(v))
        }
    }

    /// The config's variable names onto the data plane's (exhaustive both ways by construction).
    static func variable(_ v: HeaderVariable) -> ConnectionVariable {
        switch v {
        case .tlsClientSubject: .tlsClientSubject
        case .tlsClientIssuer: .tlsClientIssuer
        case .tlsClientSAN: .tlsClientSAN
        case .tlsClientFingerprint: .tlsClientFingerprint
        case .tlsClientSerial: .tlsClientSerial
        case .tlsClientVerify: .tlsClientVerify
        case .tlsVersion: .tlsVersion
        case .tlsCipher: .tlsCipher
        case .tlsSNI: .tlsSNI
        }
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
            case .grpc(let service, let host): kind = .grpc(service: service, authority: host)
            case .inference: kind = nil  // rejected by the feature gate
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
