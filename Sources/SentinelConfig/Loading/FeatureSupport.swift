import KDL

/// The features of the schema that this build's data plane does not implement yet.
///
/// Sentinel never accepts a setting it would silently ignore: `sentinel test` and startup reject
/// each one with `not supported yet: <feature>` at the node that asks for it. This file is the
/// single list to shrink as the data plane grows; the example configurations' tests pin it.
enum FeatureSupport {
    static func check(_ config: SentinelConfiguration, host: ConfigHost, sink: DiagnosticSink) {
        let s = system(config.system, host: host)
        for (feature, loc, path) in s { sink.notSupported(feature, loc, path) }
        var all: [(String, KDLSourceLocation, ConfigPath)] = []
        all += scope(listeners: config.listeners, routes: config.routes, upstreams: config.upstreams,
                     filters: config.filters, agents: config.agents)
        for ns in config.namespaces {
            all += scope(listeners: ns.listeners, routes: ns.routes, upstreams: ns.upstreams, filters: ns.filters, agents: ns.agents, namespaced: true)
            if ns.limits != nil { all.append(("namespace limits", ns.location, ConfigPath(["namespace \"\(ns.id)\""]))) }
            for svc in ns.services {
                all += scope(listeners: svc.listeners, routes: svc.routes, upstreams: svc.upstreams, filters: svc.filters, agents: svc.agents, namespaced: true)
                if svc.limits != nil {
                    all.append(("service limits", svc.location, ConfigPath(["namespace \"\(ns.id)\"", "service \"\(svc.id)\""])))
                }
            }
        }
        let at = config.blockLocations
        // `global` is enforced; the defaults serve route `policies { rate-limit }`, which are not.
        if let rl = config.rateLimits, rl.defaultRPS != nil || rl.defaultBurst != nil || rl.key != .clientIP, let l = at["rate-limits"] {
            all.append(("rate-limits default-rps / default-burst / key (the defaults of route policy rate limits)", l, ConfigPath(["rate-limits"])))
        }
        if config.cache != nil, let l = at["cache"] { all.append(("the HTTP cache (cache block)", l, ConfigPath(["cache"]))) }
        // `waf` with a mode other than "off" is reported by WafConfig.read itself.
        all += limits(config.limits, at: at["limits"])
        all += observability(config.observability, at: at)
        all += dataPath(config)
        for (feature, loc, path) in all { sink.notSupported(feature, loc, path) }
        guard host == .proxy else { return }
        for a in config.agents + config.namespaces.flatMap({ $0.agents + $0.services.flatMap(\.agents) }) where a.supervision != nil {
            sink.warning(a.location, ConfigPath(["agents", "agent \"\(a.id)\""]),
                         "agent \"\(a.id)\" is started and supervised by sentinel-stack only; single-process sentinel does not run it",
                         hint: "run this configuration with sentinel-stack up")
        }
    }

    static func system(_ s: SystemConfig, host: ConfigHost) -> [(String, KDLSourceLocation, ConfigPath)] {
        guard let loc = s.location else { return [] }
        let p = ConfigPath(["system"])
        var out: [(String, KDLSourceLocation, ConfigPath)] = []
        if s.daemon { out.append(("daemon #true (run under systemd or a container runtime instead)", loc, p)) }
        // sentinel-stack drops workers and agents to user/group after binding; `sentinel` does not.
        if host == .proxy, s.user != nil || s.group != nil {
            out.append(("user/group privilege drop in single-process mode (sentinel-stack does it)", loc, p))
        }
        if s.autoReload { out.append(("auto-reload (send SIGHUP to reload)", loc, p)) }
        return out
    }

    /// Limits the data plane does not enforce yet: a non-default value would be a promise
    /// Sentinel does not keep. (Header size and count, field sizes, URI length and body size
    /// are enforced.)
    static func limits(_ l: LimitsConfig, at location: KDLSourceLocation?) -> [(String, KDLSourceLocation, ConfigPath)] {
        guard let location else { return [] }
        let d = LimitsConfig()
        var names: [String] = []
        if l.maxBodyBufferBytes != d.maxBodyBufferBytes { names.append("max-body-buffer-bytes") }
        if l.maxBodyInspectionBytes != d.maxBodyInspectionBytes { names.append("max-body-inspection-bytes") }
        if l.maxDecompressionRatio != d.maxDecompressionRatio { names.append("max-decompression-ratio") }
        if l.maxDecompressedSizeBytes != d.maxDecompressedSizeBytes { names.append("max-decompressed-size-bytes") }
        if l.maxConnectionsPerClient != d.maxConnectionsPerClient { names.append("max-connections-per-client") }
        if l.maxConnectionsPerRoute != d.maxConnectionsPerRoute { names.append("max-connections-per-route") }
        if l.maxIdleConnectionsPerUpstream != d.maxIdleConnectionsPerUpstream { names.append("max-idle-connections-per-upstream") }
        if l.maxInFlightRequests != d.maxInFlightRequests { names.append("max-in-flight-requests") }
        if l.maxInFlightRequestsPerWorker != d.maxInFlightRequestsPerWorker { names.append("max-in-flight-requests-per-worker") }
        if l.maxQueuedRequests != d.maxQueuedRequests { names.append("max-queued-requests") }
        if l.maxAgentBodyBytes != d.maxAgentBodyBytes { names.append("max-agent-body-bytes") }
        if l.maxAgentResponseBytes != d.maxAgentResponseBytes { names.append("max-agent-response-bytes") }
        if l.maxRequestsPerSecondGlobal != nil { names.append("max-requests-per-second-global") }
        if l.maxRequestsPerSecondPerClient != nil { names.append("max-requests-per-second-per-client") }
        if l.maxRequestsPerSecondPerRoute != nil { names.append("max-requests-per-second-per-route") }
        return names.map { ("limit \"\($0)\"", location, ConfigPath(["limits"])) }
    }

    static func scope(
        listeners: [ListenerConfig], routes: [RouteConfig], upstreams: [UpstreamConfig],
        filters: [FilterConfig], agents: [AgentConfig], namespaced: Bool = false
    ) -> [(String, KDLSourceLocation, ConfigPath)] {
        var out: [(String, KDLSourceLocation, ConfigPath)] = []
        for l in listeners {
            let p = ConfigPath(["listeners", "listener \"\(l.id)\""])
            // http and https (HTTP/1.1 over TLS, ALPN http/1.1) are served; h2 and h3 are not.
            if l.proto != .http, l.proto != .https { out.append(("listener protocol \"\(l.proto.rawValue)\"", l.location, p)) }
            if let tls = l.tls {
                let tp = p.appending("tls")
                if tls.acme != nil { out.append(("ACME certificates (acme block)", tls.location, tp)) }
                for sni in tls.sni where sni.acme != nil { out.append(("ACME certificates (acme block)", sni.location, tp.appending("sni"))) }
                // Stapling is from ocsp-file only; an explicit #true with no file would staple nothing.
                if tls.ocspStapling == true, tls.ocspFiles.isEmpty {
                    out.append(("fetching OCSP responses (give ocsp-file)", tls.ocspStaplingLocation ?? tls.location, tp))
                }
            }
            if l.maxConcurrentStreams != 100 { out.append(("max-concurrent-streams (HTTP/2)", l.location, p)) }
        }
        for u in upstreams {
            let p = ConfigPath(["upstreams", "upstream \"\(u.id)\""])
            // Every load-balancing algorithm, circuit breakers and passive health are built; of the
            // active checks, tcp, http and grpc (h2c, or over TLS with ALPN h2 for an upstream with
            // `tls`) are (inference needs its readiness probes).
            switch u.healthCheck?.kind {
            case .inference: out.append(("health-check type \"inference\"", u.location, p))
            case .tcp, .http, .grpc, nil: break
            }
            if u.httpVersion != HTTPVersionConfig() { out.append(("http-version", u.location, p)) }
            if u.targets.contains(where: { $0.maxRequests != nil }) { out.append(("target max-requests", u.location, p)) }
        }
        // every filter type runs in the filter chain; what is refused below is a setting of one.
        for f in filters {
            let p = ConfigPath(["filters", "filter \"\(f.id)\""])
            switch f.kind {
            case .headers, .cors, .redirect, .urlRewrite, .timeout:
                break
            case .log(let l):
                if l.logBody { out.append(("log filter log-body (bodies are not captured; request and response lines are logged)", f.location, p)) }
            case .rateLimit(let r):
                // Local (shared by sentinel-stack's workers) and Redis work; Memcached does not.
                if case .memcached = r.backend {
                    out.append(("rate-limit backend \"memcached\" (filter \"\(f.id)\"; Sentinel has no Memcached client: use backend \"redis\")",
                                f.location, p))
                }
            case .agent(let a):
                // Agent filters call their agent on the request headers; the body and the
                // response side of a filter are not built yet.
                if a.phase != .request { out.append(("agent filter phase \"response\"/\"both\" (filter \"\(f.id)\")", f.location, p)) }
                if a.inspectBody { out.append(("agent filter inspect-body (filter \"\(f.id)\")", f.location, p)) }
                if a.maxBodyBytes != nil { out.append(("agent filter max-body-bytes (filter \"\(f.id)\")", f.location, p)) }
            case .compress(let c):
                // gzip and deflate run on the system zlib; no brotli or zstd library is linked.
                let names = c.algorithms.filter { $0 == .brotli || $0 == .zstd }.map(\.rawValue)
                if !names.isEmpty {
                    out.append(("compress algorithms \(names.joined(separator: ", ")) (filter \"\(f.id)\"; Sentinel compresses with zlib only: "
                                + "list gzip and/or deflate)", f.location, p))
                }
            case .geo(let g):
                // MaxMind databases are read with libmaxminddb; Sentinel has no IP2Location reader.
                if g.databaseType == .ip2location {
                    out.append(("geo database-type \"ip2location\" (filter \"\(f.id)\"; use a MaxMind .mmdb database)", f.location, p))
                }
            }
        }
        out += agentSettings(agents, namespaced: namespaced)
        for r in routes {
            let p = ConfigPath(["routes", "route \"\(r.id)\""])
            if let h = r.builtinHandler, [.cachePurge, .cacheStats].contains(h) {
                out.append(("builtin-handler \"\(h.rawValue)\"", r.location, p))
            }
            if r.staticFiles != nil { out.append(("static-files", r.location, p)) }
            if r.apiSchema != nil { out.append(("api-schema", r.location, p)) }
            if r.inference != nil { out.append(("inference", r.location, p)) }
            if r.cache != nil { out.append(("route cache", r.location, p)) }
            if r.shadow != nil { out.append(("shadow", r.location, p)) }
            if let f = r.fallback {
                if f.triggers.onBudgetExhausted || f.triggers.onLatencyThreshold != nil {
                    out.append(("fallback triggers on-budget-exhausted / on-latency-threshold-ms", r.location, p))
                }
                if f.upstreams.contains(where: { !$0.modelMapping.isEmpty || $0.provider != .generic }) {
                    out.append(("fallback provider / model-mapping (inference)", r.location, p))
                }
                // Sentinel passes over an upstream with no healthy target in any case (as one attempt).
                if f.upstreams.contains(where: \.skipIfUnhealthy) {
                    out.append(("fallback-upstream skip-if-unhealthy", r.location, p))
                }
            }
            if let rp = r.retryPolicy, rp.timeout != nil || rp.budgetRatio != 0.2 || rp.budgetMinPerSecond != 10 {
                out.append(("retry-policy timeout-ms / budget settings", r.location, p))
            }

            if r.wafEnabled { out.append(("waf-enabled", r.location, p)) }
            if r.websocketInspection { out.append(("websocket-inspection (frames to agents)", r.location, p)) }
            // Route policies: header edits, max-body-size, timeout-secs, failure-mode and rate-limit are honoured.
            if r.policies.bufferRequests || r.policies.bufferResponses {
                out.append(("route policies buffer-requests / buffer-responses (bodies are streamed with bounded buffers; "
                            + "the original's KDL reader never read these keys)", r.location, p))
            }
        }
        return out
    }

    /// What of an agent's settings the proxy does not use yet: transports other than a Unix
    /// socket, events other than the request headers (and the body limits and modes that only
    /// body events use), agents declared inside namespaces.
    static func agentSettings(_ agents: [AgentConfig], namespaced: Bool) -> [(String, KDLSourceLocation, ConfigPath)] {
        var out: [(String, KDLSourceLocation, ConfigPath)] = []
        for a in agents {
            let p = ConfigPath(["agents", "agent \"\(a.id)\""])
            if namespaced {
                // Agent filters reach the top-level agents only: one declared in a namespace can
                // be supervised by sentinel-stack, and nothing calls it.
                var plain = AgentConfig(id: a.id, location: a.location, type: a.type, transport: a.transport)
                plain.supervision = a.supervision
                if a.supervision == nil {
                    out.append(("agents inside a namespace or service without command (agent \"\(a.id)\"; declare it in the top-level agents block)", a.location, p))
                } else if plain != a {
                    out.append(("call settings of an agent inside a namespace or service (agent \"\(a.id)\"; declare it in the top-level agents block)", a.location, p))
                }
                continue
            }
            if case .unixSocket = a.transport {} else {
                out.append(("agent transport \"\(a.transport.name)\" (agent \"\(a.id)\"; use unix-socket)", a.location, p))
            }
            let other = a.events.filter { $0 != .requestHeaders }
            if !other.isEmpty {
                out.append(("agent events \(other.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")) (agent \"\(a.id)\"; request_headers is supported)", a.location, p))
            }
            let d = AgentConfig(id: a.id, location: a.location, type: a.type, transport: a.transport)
            var body: [String] = []
            if a.maxRequestBodyBytes != d.maxRequestBodyBytes { body.append("max-request-body-bytes") }
            if a.maxResponseBodyBytes != d.maxResponseBodyBytes { body.append("max-response-body-bytes") }
            if a.requestBodyMode != d.requestBodyMode { body.append("request-body-mode") }
            if a.responseBodyMode != d.responseBodyMode { body.append("response-body-mode") }
            if a.chunkTimeout != d.chunkTimeout { body.append("chunk-timeout-ms") }
            if !body.isEmpty {
                out.append(("agent body settings \(body.joined(separator: ", ")) (agent \"\(a.id)\"; body events)", a.location, p))
            }
        }
        return out
    }

    static func observability(_ o: ObservabilityConfig, at: [String: KDLSourceLocation]) -> [(String, KDLSourceLocation, ConfigPath)] {
        var out: [(String, KDLSourceLocation, ConfigPath)] = []
        if let e = o.logging.errorLog, e.enabled, let l = at["observability.logging.error-log"] {
            out.append(("error-log files (errors are logged as JSON on stderr)", l, ConfigPath(["observability", "logging", "error-log"])))
        }
        if let a = o.logging.auditLog, a.enabled, let l = at["observability.logging.audit-log"] {
            out.append(("audit-log", l, ConfigPath(["observability", "logging", "audit-log"])))
        }
        if o.metrics.highCardinality, let l = at["observability.metrics"] {
            out.append(("metrics high-cardinality (routes are labelled by route id only)", l, ConfigPath(["observability", "metrics"])))
        }
        if o.logging.format != "json", let l = at["observability.logging"] {
            out.append(("log format \"\(o.logging.format)\" (logs are JSON lines)", l, ConfigPath(["observability", "logging"])))
        }
        if o.tracing != nil, let l = at["observability.tracing"] {
            out.append(("tracing export", l, ConfigPath(["observability", "tracing"])))
        }
        return out
    }
}
