import KDL
import SentinelCompression
import SentinelConfig
import SentinelProxy
import SentinelRateLimit

/// Compiles a route's `filters "a" "b"` into the data plane's `FilterChain`, once per snapshot:
/// each id looked up from the route's scope (service → namespace → exported → global, or a
/// qualified `ns:id`), each filter turned into its runtime form, in the route's order and by
/// phase. Static header edits and timeouts are joined here so a request pays nothing for them.
enum FilterChainBuilder {
    static func chain(
        _ route: RouteConfig, scope: SnapshotBuilder.Scope, rateLimits: RateLimitSet = RateLimitSet(),
        events: RateLimitEvents = RateLimitEvents(), agents: [String: AgentHandle] = [:], geo: [KDLSourceLocation: GeoSource] = [:]
    ) throws(SnapshotBuilder.Failure) -> FilterChain {
        // The global limiter stands in front of every route's own filters.
        var request: [FilterChain.Entry] = rateLimits.global.map { [.rateLimit(id: "global", limiter: $0, events: events)] } ?? []
        // Then the route's own `policies { rate-limit }`.
        if let p = route.policies.rateLimit, let limiter = rateLimits.policies[p.location] {
            request.append(.rateLimit(id: limiter.rule.scope, limiter: limiter, events: events))
        }
        // A builtin route's own `response-headers` (a proxied route's are in its plan, first).
        let builtinEdits = route.upstream.flatMap(scope.upstream) == nil ? SnapshotBuilder.edits(route.policies.responseHeaders) : HeaderEdits()
        guard !route.filters.isEmpty || !request.isEmpty || !builtinEdits.isEmpty else { return .none }
        var response: [FilterChain.ResponseEntry] = []
        var requestEdits = HeaderEdits()
        var responseEdits = builtinEdits
        var timeouts = RouteTimeouts()
        var compression: CompressionDecision.Rule?
        let prefixes = route.match.pathPrefixes
        // Consecutive agent filters form one step: their agents are called at once.
        var agentRun: [(id: String, member: AgentRequestStep.Member)] = []
        func closeAgentRun() {
            guard !agentRun.isEmpty else { return }
            request.append(FilterChain.agentEntry(id: agentRun.map(\.id).joined(separator: ","), AgentRequestStep(members: agentRun.map(\.member))))
            agentRun = []
        }
        for id in route.filters {
            guard let filter = scope.filter(id) else {
                throw SnapshotBuilder.Failure(description: "route \"\(route.id)\": filter \"\(id)\" is not defined")
            }
            if case .agent(let a) = filter.kind {
                guard let handle = agents[a.agent.id] else {
                    throw SnapshotBuilder.Failure(description: "route \"\(route.id)\": filter \"\(id)\": agent \"\(a.agent.id)\" is not defined")
                }
                // Which failure mode applies: the filter's, else the route's policy, else the agent's.
                let mode: AgentSettings.FailureMode
                let origin: String
                if let m = a.failureMode {
                    (mode, origin) = (m == .open ? .open : .closed, "filter")
                } else if let m = route.policies.failureMode {
                    (mode, origin) = (m == .open ? .open : .closed, "route")
                } else {
                    (mode, origin) = (handle.settings.failureMode, "agent")
                }
                agentRun.append((id, AgentRequestStep.Member(filterID: id, agent: handle, failureMode: mode, origin: origin, timeout: a.timeout)))
                continue
            }
            closeAgentRun()
            switch filter.kind {
            case .headers(let h):
                let edits = SnapshotBuilder.edits(h.modifications)
                if h.phase != .response { requestEdits = requestEdits.followed(by: edits) }
                if h.phase != .request { responseEdits = responseEdits.followed(by: edits) }
            case .cors(let c):
                request.append(.cors(id: id, cors(c)))
            case .redirect(let r):
                request.append(.redirect(id: id, RedirectRule(
                    statusCode: r.statusCode, scheme: r.scheme, hostname: r.hostname, port: r.port, path: r.path.map(replacement),
                    routePrefixes: prefixes)))
            case .urlRewrite(let u):
                request.append(.urlRewrite(id: id, URLRewriteRule(hostname: u.hostname, path: u.path.map(replacement), routePrefixes: prefixes)))
            case .timeout(let t):
                timeouts = timeouts.overridden(by: RouteTimeouts(
                    request: t.requestTimeout, read: t.upstreamTimeout, write: t.upstreamTimeout, connect: t.connectTimeout))
            case .log(let l):
                let rule = LogRule(logRequest: l.logRequest, logResponse: l.logResponse, level: l.level.rawValue)
                if let entry = FilterChain.Entry.log(id: id, rule) { request.append(entry) }
                if let entry = FilterChain.ResponseEntry.log(id: id, rule) { response.append(entry) }
            case .rateLimit(let c):
                guard let limiter = rateLimits.filters[filter.location] else {
                    throw SnapshotBuilder.Failure(description: "route \"\(route.id)\": filter \"\(id)\" has no limiter")
                }
                if case .redis = c.backend {
                    guard let redis = rateLimits.redis[filter.location] else {
                        throw SnapshotBuilder.Failure(description: "route \"\(route.id)\": filter \"\(id)\" has no Redis limiter")
                    }
                    request.append(.rateLimit(id: limiter.rule.scope, redis: redis, events: events))
                } else {
                    request.append(.rateLimit(id: limiter.rule.scope, limiter: limiter, events: events))
                }
            case .compress(let c):
                compression = Self.compression(c)
            case .geo(let g):
                guard let source = geo[filter.location] else {
                    throw SnapshotBuilder.Failure(description: "route \"\(route.id)\": filter \"\(id)\" has no GeoIP database")
                }
                request.append(.geo(id: id, rule: Self.geoRule(g), source: source, failOpen: g.onFailure == .open))
            case .agent:
                // Agent filters are taken above; never silently dropped.
                throw SnapshotBuilder.Failure(
                    description: "route \"\(route.id)\": filter \"\(id)\" of type \(filter.kind.typeName.rawValue) is not supported yet")
            }
        }
        closeAgentRun()
        // `policies { failure-mode }` is the default of every filter that sets none of its own
        // (a filter type with its own `failure-mode` / `on-failure` sets it when it is built).
        // (An agent step resolves its members' modes itself: filter, then route, then agent.)
        let routeMode: FilterFailureMode = route.policies.failureMode == .open ? .open : .closed
        return FilterChain(
            // A rate-limit filter's mode is its own (redis-fallback), a geo filter's its on-failure:
            // not the route's.
            request: request.map { $0.type == "rate-limit" || $0.type == "geo" ? $0 : $0.failing(routeMode) }, response: response, requestEdits: requestEdits, responseEdits: responseEdits,
            timeouts: timeouts, compression: compression)
    }

    /// A `compress` filter's rule: gzip and deflate in the configured order (brotli and zstd are
    /// refused at load, FeatureSupport), zlib's level range.
    static func compression(_ c: CompressFilterConfig) -> CompressionDecision.Rule {
        let codings: [ContentCoding] = c.algorithms.compactMap {
            switch $0 {
            case .gzip: .gzip
            case .deflate: .deflate
            case .brotli, .zstd: nil
            }
        }
        return CompressionDecision.Rule(
            codings: codings, minSize: UInt64(max(0, c.minSize)), level: c.level, contentTypes: c.contentTypes)
    }

    static func geoRule(_ g: GeoFilterConfig) -> GeoRule {
        let action: GeoRule.Action = switch g.action {
        case .block: .block
        case .allow: .allow
        case .logOnly: .logOnly
        }
        return GeoRule(action: action, countries: g.countries, status: g.statusCode, message: g.blockMessage, addCountryHeader: g.addCountryHeader)
    }

    static func cors(_ c: CorsFilterConfig) -> CorsPolicy {
        let (seconds, _) = c.maxAge.components
        return CorsPolicy(
            origins: c.allowedOrigins, methods: c.allowedMethods, allowedHeaders: c.allowedHeaders, exposedHeaders: c.exposedHeaders,
            allowCredentials: c.allowCredentials, maxAgeSeconds: Int(seconds))
    }

    static func replacement(_ p: PathRewrite) -> PathReplacement {
        switch p {
        case .fullPath(let s): .fullPath(s)
        case .prefixMatch(let s): .prefixMatch(s)
        }
    }
}
