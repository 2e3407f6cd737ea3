import KDL
import Testing
@testable import SentinelConfig

@Suite("agents")
struct AgentSectionTests {
    @Test func defaults() throws {
        let (a, sink) = read(n("agent", "waf", props: ["type": "waf"]) { n("unix-socket", "/run/waf.sock") }, AgentConfig.read)
        #expect(sink.diagnostics.isEmpty, "\(sink.dump)")
        let agent = try #require(a)
        #expect(agent.type == .waf)
        #expect(agent.transport == .unixSocket(path: "/run/waf.sock"))
        #expect(agent.events == [.requestHeaders])
        #expect(agent.timeout == .milliseconds(1000))
        #expect(agent.failureMode == .open)
        #expect(agent.circuitBreaker == nil)
        #expect(agent.maxRequestBodyBytes == 1 << 20 && agent.maxResponseBodyBytes == 1 << 20)
        #expect(agent.requestBodyMode == .buffer && agent.responseBodyMode == .buffer)
        #expect(agent.chunkTimeout == .milliseconds(5000))
        #expect(agent.maxConcurrentCalls == 100)
        #expect(agent.config == nil)
        #expect(agent.supervision == nil)
    }

    @Test func fullAgent() throws {
        let node = n("agent", "auth") {
            n("type", "rate_limit")
            n("grpc", props: ["address": "https://auth.internal:50051"]) {
                n("ca-cert", "/etc/ca.pem")
                n("client-cert", "/etc/c.pem")
                n("client-key", "/etc/k.pem")
            }
            n("events", "request_headers", "request-body", "request_complete", "websocket_frame", "guardrail")
            n("timeout-ms", 250)
            n("failure-mode", "fail-closed")
            n("circuit-breaker") { n("failure-threshold", 3) }
            n("max-request-body-bytes", "2MB")
            n("request-body-mode", "hybrid:64KB")
            n("response-body-mode", "hybrid")
            n("max-concurrent-calls", 10)
            n("config") { n("mode", "strict"); n("rules", "a", "b") }
        }
        let (a, sink) = read(node, AgentConfig.read)
        #expect(sink.diagnostics.isEmpty, "\(sink.dump)")
        let agent = try #require(a)
        #expect(agent.type == .rateLimit)
        guard case .grpc(let address, let tls) = agent.transport else { Issue.record("not grpc"); return }
        #expect(address == "https://auth.internal:50051")
        #expect(tls?.caCert == "/etc/ca.pem" && tls?.clientKey == "/etc/k.pem" && tls?.insecureSkipVerify == false)
        #expect(agent.events == [.requestHeaders, .requestBody, .log, .websocketFrame, .guardrail])
        #expect(agent.failureMode == .closed)
        #expect(agent.circuitBreaker?.failureThreshold == 3)
        #expect(agent.maxRequestBodyBytes == 2 << 20)
        #expect(agent.requestBodyMode == .hybrid(threshold: 65_536))
        #expect(agent.responseBodyMode == .hybrid(threshold: AgentBodyMode.defaultHybridThreshold))
        #expect(agent.maxConcurrentCalls == 10)
        #expect(agent.config?.serialized() == #"{"mode":"strict","rules":["a","b"]}"#)
    }

    @Test func typeDefaultsToCustomID() throws {
        let (a, _) = read(n("agent", "mine") { n("http", "https://x.example/agent") }, AgentConfig.read)
        let agent = try #require(a)
        #expect(agent.type == .custom("mine"))
        guard case .http(_, let tls) = agent.transport else { Issue.record("not http"); return }
        #expect(tls != nil) // https implies TLS
    }

    @Test func transportMustBeExactlyOne() {
        let (a, sink) = read(n("agent", "x") { n("timeout-ms", 10) }, AgentConfig.read)
        #expect(a == nil)
        #expect(sink.hasError("needs a transport", hint: "unix-socket"))
        let (b, sink2) = read(n("agent", "x") { n("unix-socket", "/a.sock"); n("grpc", "http://h:1") }, AgentConfig.read)
        #expect(b == nil || b != nil)
        #expect(sink2.hasError("exactly one transport"))
        let (_, sink3) = read(n("agent", "x") { n("unix-socket", "/a.sock", props: ["path": "/b.sock"]) }, AgentConfig.read)
        #expect(sink3.hasError("both a value and path="))
        let (_, sink4) = read(n("agent", "x") { n("grpc", "localhost:50051") { n("client-cert", "/c") } }, AgentConfig.read)
        #expect(sink4.hasError("is not an http:// or https:// URL"))
        #expect(sink4.hasError("\"client-cert\" needs \"client-key\""))
    }

    @Test func docsTransportBlockGetsSpecificError() {
        let (a, sink) = read(n("agent", "x") { n("transport") { n("type", "unix_socket"); n("path", "/a.sock") } }, AgentConfig.read)
        #expect(a == nil)
        #expect(sink.errors.count == 1, "\(sink.dump)")
        #expect(sink.hasError("\"transport { … }\" is not supported", hint: "unix-socket"))
    }

    @Test func valueErrorsAllAtOnce() {
        let node = n("agent", "x") {
            n("unix-socket", "/a.sock")
            n("timeout-ms", 0)
            n("events", "request_headers", "request_bodies")
            n("request-body-mode", "hybrid:lots")
            n("response-body-mode", "streem")
            n("max-response-body-bytes", 0)
            n("failure-mode", "maybe")
            n("timeout", 5)
        }
        let (_, sink) = read(node, AgentConfig.read)
        #expect(sink.hasError("\"timeout-ms\" must be at least"))
        #expect(sink.hasError("unknown value \"request_bodies\"", hint: "request-body"))
        #expect(sink.hasError("cannot read the hybrid threshold"))
        #expect(sink.hasError("unknown value \"streem\"", hint: "did you mean \"stream\""))
        #expect(sink.hasError("\"max-response-body-bytes\" is 0 bytes"))
        #expect(sink.hasError("unknown value \"maybe\""))
        #expect(sink.hasError("unknown setting \"timeout\"", hint: "timeout-ms"))
        #expect(sink.errors.count == 7, "\(sink.dump)")
    }

    @Test func protocolVersionWarns() throws {
        let (a, sink) = read(n("agent", "x") { n("unix-socket", "/a.sock"); n("protocol-version", 2) }, AgentConfig.read)
        #expect(a != nil)
        #expect(sink.errors.isEmpty)
        #expect(sink.hasWarning("\"protocol-version\" is ignored"))
    }

    @Test func typeGivenTwice() {
        let (_, sink) = read(n("agent", "x", props: ["type": "waf"]) { n("type", "auth"); n("unix-socket", "/a.sock") }, AgentConfig.read)
        #expect(sink.hasError("the agent type is given twice"))
    }

    @Test func supervision() throws {
        let node = n("agent", "waf") {
            n("unix-socket", "/run/waf.sock")
            n("command", "/usr/bin/waf-agent", "--socket", "/run/waf.sock")
            n("restart-policy", "always")
            n("restart-delay-ms", 250)
            n("max-restarts", 5)
            n("env") { n("RUST_LOG", "info"); n("API_KEY", "${WAF_API_KEY}"); n("MIXED", "pre-${A}-${B_2}") }
            n("working-directory", "/var/lib/waf")
        }
        let (a, sink) = read(node, AgentConfig.read)
        #expect(sink.diagnostics.isEmpty, "\(sink.dump)")
        let agent = try #require(a)
        let s = try #require(agent.supervision)
        #expect(s.command == ["/usr/bin/waf-agent", "--socket", "/run/waf.sock"])
        #expect(s.restartPolicy == .always)
        #expect(s.restartDelay == .milliseconds(250))
        #expect(s.maxRestarts == 5)
        #expect(s.environment.map(\.name) == ["RUST_LOG", "API_KEY", "MIXED"])
        #expect(s.environment[1].value == "${WAF_API_KEY}") // kept unexpanded
        #expect(s.workingDirectory == "/var/lib/waf")
        #expect(s.stopTimeout == .milliseconds(5000))
    }

    @Test func supervisionDefaultsAndErrors() throws {
        let (a, sink) = read(n("agent", "w") { n("unix-socket", "/w.sock"); n("command", "w") }, AgentConfig.read)
        #expect(sink.diagnostics.isEmpty)
        let agent = try #require(a)
        let s = try #require(agent.supervision)
        #expect(s.restartPolicy == .onFailure && s.restartDelay == .milliseconds(1000) && s.maxRestarts == nil)

        let node = n("agent", "w") {
            n("unix-socket", "/w.sock")
            n("restart-policy", "on_failure")
            n("env") { n("BAD", "${UNCLOSED"); n("EMPTY", "${}"); n("1X", "v"); n("NUM", "${9X}") }
        }
        let (_, sink2) = read(node, AgentConfig.read)
        #expect(sink2.hasError("unterminated \"${\""))
        #expect(sink2.hasError("empty variable name"))
        #expect(sink2.hasError("\"1X\" is not a valid environment variable name"))
        #expect(sink2.hasError("\"${9X}\" is not a valid variable name"))
        #expect(sink2.hasError("\"restart-policy\" has no effect without \"command\""))
        #expect(sink2.hasError("\"env\" has no effect without \"command\""))
    }
}

@Suite("observability, cache, rate-limits, waf")
struct GlobalSectionTests {
    @Test func observabilityDefaults() {
        let (o, sink) = read(n("observability"), ObservabilityConfig.read)
        #expect(sink.diagnostics.isEmpty)
        #expect(o.metrics.enabled && o.metrics.address == "0.0.0.0:9090" && o.metrics.path == "/metrics" && !o.metrics.highCardinality)
        #expect(o.logging.level == .info && o.logging.format == "json")
        #expect(o.logging.accessLog == nil && o.tracing == nil)
    }

    @Test func observabilityFull() throws {
        let node = n("observability") {
            n("metrics") { n("address", "127.0.0.1:9100"); n("path", "/m") }
            n("logging") {
                n("access-log") { n("format", "clf"); n("sample-rate", 0.25); n("sample-errors-always", false) }
                n("error-log") { n("level", "error") }
                n("audit-log") { n("log-agent-decisions", false) }
            }
            n("tracing") {
                n("backend", "jaeger") { n("endpoint", "http://jaeger:14268") }
                n("sampling-rate", 0.5)
            }
        }
        let (o, sink) = read(node, ObservabilityConfig.read)
        #expect(sink.diagnostics.isEmpty, "\(sink.dump)")
        #expect(o.metrics.address == "127.0.0.1:9100" && o.metrics.path == "/m")
        let access = try #require(o.logging.accessLog)
        #expect(access.format == .common && access.sampleRate == 0.25 && !access.sampleErrorsAlways)
        #expect(access.file == "/var/log/sentinel/access.log" && access.includeTraceID && access.bufferSize == 8192)
        #expect(o.logging.errorLog?.level == .error && o.logging.errorLog?.file == "/var/log/sentinel/error.log")
        #expect(o.logging.auditLog?.logAgentDecisions == false && o.logging.auditLog?.logBlocked == true)
        let t = try #require(o.tracing)
        #expect(t.backend == .jaeger && t.endpoint == "http://jaeger:14268" && t.samplingRate == 0.5 && t.serviceName == "sentinel")
    }

    @Test func observabilityErrors() {
        let node = n("observability") {
            n("metrics") { n("address", "9090") }
            n("logging") { n("access-log") { n("format", "xml"); n("sample-rate", 2.0) } }
            n("tracing") { n("backend", "otlp"); n("sampling-rate", 0.1) }
        }
        let (o, sink) = read(node, ObservabilityConfig.read)
        #expect(sink.hasError("\"9090\" is not a host:port address"))
        #expect(sink.hasError("unknown value \"xml\""))
        #expect(sink.hasError("\"sample-rate\" is 2.0, outside the allowed range"))
        #expect(sink.hasError("the tracing backend needs an endpoint"))
        #expect(o.tracing == nil)
    }

    @Test func cacheStorage() {
        let (c, sink) = read(n("cache"), CacheStorageConfig.read)
        #expect(sink.diagnostics.isEmpty)
        #expect(c.enabled && c.backend == .memory && c.maxSize == 100 << 20 && c.lockTimeout == .seconds(10))
        #expect(c.diskShards == 16 && !c.statusHeader && c.statusHeaderName == "sentinel")
        let (_, sink2) = read(n("cache") { n("backend", "disk") }, CacheStorageConfig.read)
        #expect(sink2.hasError("backend \"disk\" needs \"disk-path\""))
        let (_, sink3) = read(n("cache") { n("disk-path", "/var/cache/s") }, CacheStorageConfig.read)
        #expect(sink3.hasError("\"disk-path\" has no effect with backend \"memory\""))
        let (h, sink4) = read(n("cache") { n("backend", "hybrid"); n("disk-path", "/c"); n("max-size", "1GB") }, CacheStorageConfig.read)
        #expect(sink4.diagnostics.isEmpty)
        #expect(h.backend == .hybrid && h.maxSize == 1 << 30 && h.diskPath == "/c")
    }

    @Test func rateLimits() throws {
        let (r, sink) = read(n("rate-limits") { n("default-rps", 50); n("global") { n("max-rps", 1000); n("key", "route") } }, RateLimitsConfig.read)
        #expect(sink.diagnostics.isEmpty, "\(sink.dump)")
        #expect(r.defaultRPS == 50 && r.defaultBurst == nil && r.key == .clientIP)
        let g = try #require(r.global)
        #expect(g.maxRPS == 1000 && g.burst == 10 && g.key == .route)
        let (r2, sink2) = read(n("rate-limits") { n("global") { n("burst", 5) } }, RateLimitsConfig.read)
        #expect(r2.global == nil)
        #expect(sink2.hasError("needs \"max-rps\""))
    }

    @Test func waf() {
        let (w, sink) = read(n("waf") { n("mode", "off") }, WafConfig.read)
        #expect(sink.diagnostics.isEmpty && !sink.hasErrors)
        #expect(w.engine == .coraza && w.ruleset.paranoiaLevel == 1 && w.ruleset.anomalyThreshold == 5)
        #expect(w.bodyInspection.inspectRequestBody && !w.bodyInspection.inspectResponseBody && w.bodyInspection.maxInspectionBytes == 1 << 20)

        let node = n("waf") {
            n("engine", "modsecurity")
            n("ruleset") {
                n("paranoia-level", 5)
                n("exclusion") { n("rule-ids", 942100, 942110); n("scope", "path=/upload") }
                n("exclusion") { n("scope", "everywhere") }
            }
            n("body-inspektion")
        }
        let (w2, sink2) = read(node, WafConfig.read)
        #expect(w2.engine == .modsecurity)
        #expect(w2.ruleset.exclusions == [.init(ruleIDs: [942100, 942110], scope: .path("/upload"))])
        #expect(sink2.hasError("\"paranoia-level\" is 5"))
        #expect(sink2.hasError("needs \"rule-ids\""))
        #expect(sink2.hasError("unknown exclusion scope"))
        #expect(sink2.hasError("unknown setting \"body-inspektion\"", hint: "body-inspection"))
        #expect(sink2.sorted().contains { $0.message.contains("not supported yet") }) // mode defaults to prevention
    }
}

@Suite("route blocks")
struct RouteBlockTests {
    @Test func routeCache() {
        let (c, sink) = read(n("cache") { n("enabled", true) }, RouteCacheConfig.read)
        #expect(sink.diagnostics.isEmpty)
        #expect(c.enabled && c.defaultTTL == .seconds(3600) && c.maxSizeBytes == 10 << 20 && !c.cachePrivate)
        #expect(c.staleWhileRevalidate == .seconds(60) && c.staleIfError == .seconds(300))
        #expect(c.cacheableMethods == ["GET", "HEAD"])
        #expect(c.cacheableStatusCodes == [200, 203, 204, 206, 300, 301, 308, 404, 410])
        let (d, sink2) = read(n("cache") {
            n("vary-headers", "Accept-Encoding", "Bad Header")
            n("exclude-extensions", ".PNG", "jpg")
            n("cacheable-status-codes", 200, 999)
            n("exclude-paths", "/admin/*", "private")
        }, RouteCacheConfig.read)
        #expect(d.varyHeaders == ["Accept-Encoding"])
        #expect(d.excludeExtensions == ["png", "jpg"])
        #expect(d.excludePaths == ["/admin/*"])
        #expect(sink2.errors.count == 3, "\(sink2.dump)")
    }

    @Test func shadow() throws {
        let node = n("shadow") { n("upstream", "canary"); n("percentage", 12.5); n("sample-header", "X-Shadow", "1") }
        let (s, sink) = read(node, ShadowConfig.read)
        #expect(sink.diagnostics.isEmpty, "\(sink.dump)")
        let shadow = try #require(s)
        #expect(shadow.upstream.id == "canary" && shadow.upstream.kind == .upstream)
        #expect(shadow.upstream.location == node.children[0].arguments[0].location)
        #expect(shadow.percentage == 12.5 && shadow.sampleHeader?.name == "X-Shadow")
        #expect(shadow.timeout == .milliseconds(5000) && !shadow.bufferBody && shadow.maxBodyBytes == 1 << 20)
        #expect(shadow.references.map(\.id) == ["canary"])

        let (s2, sink2) = read(n("shadow") { n("percentage", 150); n("sample-header", "X") }, ShadowConfig.read)
        #expect(s2 == nil)
        #expect(sink2.hasError("shadow needs \"upstream\""))
        #expect(sink2.hasError("\"percentage\" is 150"))
        #expect(sink2.hasError("takes a header name and a value"))
    }

    @Test func fallback() throws {
        let node = n("fallback") {
            n("max-attempts", 2)
            n("triggers") { n("on-budget-exhausted", true); n("on-error-codes", 502, 503); n("on-latency-threshold-ms", 5000) }
            n("fallback-upstream", "anthropic") {
                n("provider", "anthropic")
                n("skip-if-unhealthy", true)
                n("model-mapping") { n("gpt-4", "claude-3-opus") }
            }
            n("fallback-upstream", "local")
        }
        let (f, sink) = read(node, FallbackConfig.read)
        #expect(sink.diagnostics.isEmpty, "\(sink.dump)")
        #expect(f.maxAttempts == 2)
        #expect(f.triggers.onHealthFailure && f.triggers.onConnectionError && f.triggers.onBudgetExhausted)
        #expect(f.triggers.onErrorCodes == [502, 503] && f.triggers.onLatencyThreshold == .milliseconds(5000))
        #expect(f.upstreams.map(\.upstream.id) == ["anthropic", "local"])
        #expect(f.upstreams[0].provider == .anthropic && f.upstreams[0].skipIfUnhealthy)
        #expect(f.upstreams[0].modelMapping == [.init(from: "gpt-4", to: "claude-3-opus")])
        #expect(f.upstreams[1].provider == .generic && !f.upstreams[1].skipIfUnhealthy)
        #expect(f.references.map(\.id) == ["anthropic", "local"])
        #expect(f.references[0].location == node.children[2].arguments[0].location)

        let (_, sink2) = read(n("fallback") { n("max-attempts", 0) }, FallbackConfig.read)
        #expect(sink2.hasError("at least one fallback-upstream"))
        #expect(sink2.hasError("\"max-attempts\" is 0"))
    }

    @Test func staticFiles() throws {
        let node = n("static-files") {
            n("root", "/var/www")
            n("fallback", "index.html")
            n("mime-types") { n(".wasm", "application/wasm"); n("MJS", "text/javascript") }
        }
        let (s, sink) = read(node, StaticFilesConfig.read)
        #expect(sink.diagnostics.isEmpty, "\(sink.dump)")
        let c = try #require(s)
        #expect(c.root == "/var/www" && c.index == "index.html" && !c.directoryListing)
        #expect(c.cacheControl == "public, max-age=3600" && c.compress && c.fallback == "index.html")
        #expect(c.mimeTypes == ["wasm": "application/wasm", "mjs": "text/javascript"])
        let (s2, sink2) = read(n("static-files") { n("mime-types") { n(".x", "notatype") }; n("index", "../etc/passwd") }, StaticFilesConfig.read)
        #expect(s2 == nil)
        #expect(sink2.hasError("static-files needs \"root\""))
        #expect(sink2.hasError("\"notatype\" is not a media type"))
        #expect(sink2.hasError("must stay inside root"))
    }

    @Test func apiSchema() throws {
        let (a, sink) = read(n("api-schema") {
            n("schema-file", "/etc/sentinel/openapi.json")
            n("request-schema") { n("type", "object"); n("required", "id", "name") }
        }, ApiSchemaConfig.read)
        #expect(sink.diagnostics.isEmpty, "\(sink.dump)")
        #expect(a.source == .file("/etc/sentinel/openapi.json"))
        #expect(a.requestSchema?.serialized() == #"{"type":"object","required":["id","name"]}"#)
        #expect(a.validateRequests && !a.validateResponses && !a.strictMode)
        let (_, sink2) = read(n("api-schema") { n("schema-file", "/a"); n("schema-content", "{}") }, ApiSchemaConfig.read)
        #expect(sink2.hasError("mutually exclusive"))
        let (_, sink3) = read(n("api-schema") { n("strict-mode", true) }, ApiSchemaConfig.read)
        #expect(sink3.hasError("api-schema needs a schema"))
    }

    @Test func inference() throws {
        let node = n("inference") {
            n("provider", "openai")
            n("model-header", "x-model")
            n("rate-limit") { n("tokens-per-minute", 100_000); n("requests-per-minute", 600) }
            n("budget") { n("period", "monthly"); n("limit", 1_000_000); n("alert-thresholds", 0.9, 0.5) }
            n("cost-attribution") {
                n("currency", "eur")
                n("pricing") {
                    n("model", "gpt-4*", props: ["input-cost-per-million": 30.0, "output-cost-per-million": 60.0])
                    n("model", "gpt-3.5*") { n("input-cost-per-million", 0.5); n("output-cost-per-million", 1.5) }
                }
            }
            n("routing") { n("strategy", "least_latency") }
            n("model-routing") {
                n("model", "gpt-4*", props: ["upstream": "openai", "provider": "openai"])
                n("model", "claude-*", props: ["upstream": "anthropic"])
                n("default-upstream", "openai")
            }
            n("guardrails") {
                n("prompt-injection") { n("agent", "ai-guard"); n("action", "block"); n("block-message", "no") }
                n("pii-detection") { n("agent", "pii"); n("action", "redact"); n("categories", "ssn", "credit_card") }
            }
        }
        let (i, sink) = read(node, InferenceConfig.read)
        #expect(sink.diagnostics.isEmpty, "\(sink.dump)")
        #expect(i.provider == .openAI && i.modelHeader == "x-model")
        #expect(i.rateLimit?.tokensPerMinute == 100_000 && i.rateLimit?.burstTokens == 10_000 && i.rateLimit?.estimationMethod == .chars)
        #expect(i.budget?.period == .monthly && i.budget?.alertThresholds == [0.5, 0.9] && i.budget?.enforce == true && i.budget?.maxTenants == 10_000)
        let cost = try #require(i.costAttribution)
        #expect(cost.enabled && cost.currency == "EUR" && cost.defaultInputCost == 1.0 && cost.defaultOutputCost == 2.0)
        #expect(cost.pricing.map(\.modelPattern) == ["gpt-4*", "gpt-3.5*"])
        #expect(cost.pricing[1].outputCostPerMillion == 1.5)
        #expect(i.routing?.strategy == .leastLatency)
        #expect(i.modelRouting?.rules.map(\.upstream.id) == ["openai", "anthropic"])
        #expect(i.modelRouting?.rules[0].provider == .openAI)
        let pi = try #require(i.guardrails?.promptInjection)
        #expect(pi.enabled && pi.action == .block && pi.blockStatus == 400 && pi.timeout == .milliseconds(500) && pi.failureMode == .open)
        let pii = try #require(i.guardrails?.piiDetection)
        #expect(pii.action == .redact && pii.categories == ["ssn", "credit-card"] && pii.timeout == .milliseconds(1000))
        let refs = i.references
        #expect(refs.map(\.kind) == [.upstream, .upstream, .upstream, .agent, .agent])
        #expect(refs.map(\.id) == ["openai", "anthropic", "openai", "ai-guard", "pii"])
    }

    @Test func inferenceErrors() {
        let node = n("inference") {
            n("provider", "openia")
            n("rate-limit") { n("requests-per-minute", 5) }
            n("budget") { n("period", "weekly") }
            n("cost-attribution") { n("pricing") { n("model", "x", props: ["input-cost-per-million": 1.0]) } }
            n("model-routing") { n("model", "gpt-*") }
            n("guardrails") { n("prompt-injection") { n("action", "warn") }; n("pii") }
        }
        let (i, sink) = read(node, InferenceConfig.read)
        #expect(sink.hasError("unknown value \"openia\"", hint: "did you mean \"openai\""))
        #expect(sink.hasError("needs \"tokens-per-minute\""))
        #expect(sink.hasError("unknown budget period \"weekly\""))
        #expect(sink.hasError("the budget needs \"limit\""))
        #expect(sink.hasError("model pricing needs \"output-cost-per-million\""))
        #expect(sink.hasError("a model rule needs upstream="))
        #expect(sink.hasError("prompt-injection needs \"agent\""))
        #expect(sink.hasError("unknown setting \"pii\"", hint: "pii-detection"))
        #expect(i.rateLimit == nil && i.budget == nil && i.references.isEmpty)
    }
}
