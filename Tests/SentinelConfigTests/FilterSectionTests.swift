import KDL
import Testing
@testable import SentinelConfig

@Suite("filters")
struct FilterSectionTests {
    @Test func rateLimitDefaults() throws {
        let (f, sink) = read(n("filter", "rl") { n("type", "rate-limit") }, FilterConfig.read)
        #expect(sink.errors.isEmpty, "\(sink.dump)")
        let filter = try #require(f)
        #expect(filter.id == "rl")
        guard case .rateLimit(let c) = filter.kind else { Issue.record("wrong kind"); return }
        #expect(c.maxRPS == 100)
        #expect(c.burst == 10)
        #expect(c.key == .clientIP)
        #expect(c.onLimit == .reject)
        #expect(c.statusCode == 429)
        #expect(c.message == "Rate limit exceeded")
        #expect(c.maxDelay == .milliseconds(5000))
        #expect(c.maxKeys == 100_000)
        #expect(c.backend == .local)
        #expect(filter.references.isEmpty)
    }

    @Test func rateLimitRedisAndHeaderKey() throws {
        let node = n("filter", "rl") {
            n("type", "rate_limit")
            n("max-rps", 50)
            n("key", "header:X-Api-Key")
            n("on-limit", "log-only")
            n("backend", "redis")
            n("redis-url", "redis://cache:6379")
            n("redis-timeout-ms", 20)
        }
        let (f, sink) = read(node, FilterConfig.read)
        #expect(sink.errors.isEmpty, "\(sink.dump)")
        guard case .rateLimit(let c) = try #require(f).kind else { Issue.record("wrong kind"); return }
        #expect(c.maxRPS == 50)
        #expect(c.key == .header("X-Api-Key"))
        #expect(c.onLimit == .logOnly)
        guard case .redis(let redis) = c.backend else { Issue.record("not redis"); return }
        #expect(redis.url == "redis://cache:6379")
        #expect(redis.timeout == .milliseconds(20))
        #expect(redis.prefix == "sentinel:ratelimit:")
        #expect(redis.fallbackToLocal)
    }

    @Test func rateLimitBackendKeysWithoutBackendAreErrors() {
        let (_, sink) = read(n("filter", "rl") { n("type", "rate-limit"); n("redis-url", "redis://x:1"); n("key", "client_ip_and_pathh") }, FilterConfig.read)
        #expect(sink.hasError("has no effect with backend \"local\"", hint: "backend \"redis\""))
        #expect(sink.hasError("unknown rate-limit key", hint: "client-ip-and-path"))
    }

    @Test func missingTypeListsTypes() {
        let (f, sink) = read(n("filter", "x") { n("max-rps", 10) }, FilterConfig.read)
        #expect(f == nil)
        #expect(sink.errors.count == 1, "\(sink.dump)")
        #expect(sink.hasError("needs a type", hint: "rate-limit, agent, headers"))
    }

    @Test func unknownTypeSuggests() {
        let (f, sink) = read(n("filter", "x") { n("type", "rate-limt"); n("max-rps", 10) }, FilterConfig.read)
        #expect(f == nil)
        #expect(sink.errors.count == 1, "\(sink.dump)")
        #expect(sink.hasError("unknown value \"rate-limt\"", hint: "did you mean \"rate-limit\""))
    }

    @Test func typeAsPropertyIsAccepted() throws {
        let (f, sink) = read(n("filter", "c", props: ["type": "cors"]), FilterConfig.read)
        #expect(sink.errors.isEmpty, "\(sink.dump)")
        #expect(try #require(f).kind.typeName == .cors)
    }

    @Test func keyOfAnotherTypeIsUnknown() {
        let (_, sink) = read(n("filter", "c") { n("type", "cors"); n("max-rps", 10); n("allowed-origin", "https://a.example") }, FilterConfig.read)
        #expect(sink.hasError("\"max-rps\" is a setting of rate-limit filters, not of cors filters", hint: "cors filters take: allowed-origins"))
        #expect(sink.errors.count == 1, "\(sink.dump)") // allowed-origin is an alias
    }

    @Test func keyTableMatchesReaders() {
        // Every key listed for a type is accepted by that type's reader (no "unknown"/"not of" errors).
        for (type, keys) in FilterConfig.keysByType {
            let node = n("filter", "x") {
                n("type", type.rawValue)
                for key in keys { n(key, "dummy") }
            }
            let (_, sink) = read(node, FilterConfig.read)
            let unknown = sink.errors.filter { $0.message.contains("unknown") && $0.message.contains("setting") || $0.message.contains("is a setting of") }
            #expect(unknown.isEmpty, "\(type): \(unknown.map(\.message))")
        }
    }

    @Test func unknownKeyDidYouMean() {
        let (_, sink) = read(n("filter", "c") { n("type", "compress"); n("min-sise", 10) }, FilterConfig.read)
        #expect(sink.hasError("unknown compress filter setting \"min-sise\"", hint: "did you mean \"min-size\""))
    }

    @Test func agentFilterExposesReference() throws {
        let node = n("filter", "waf") { n("type", "agent"); n("agent", "waf-agent"); n("failure-mode", "closed"); n("timeout-ms", 200); n("phase", "both") }
        let (f, sink) = read(node, FilterConfig.read)
        #expect(sink.errors.isEmpty, "\(sink.dump)")
        let filter = try #require(f)
        guard case .agent(let a) = filter.kind else { Issue.record("wrong kind"); return }
        #expect(a.agentReference.id == "waf-agent")
        #expect(a.failureMode == .closed)
        #expect(a.timeout == .milliseconds(200))
        #expect(a.phase == .both)
        #expect(!a.inspectBody)
        #expect(filter.references == [a.agent])
        #expect(filter.references[0].kind == .agent)
        #expect(filter.references[0].location.line == node.children[1].location.line)
        #expect(filter.references[0].path.contains("filter \"waf\" > agent"))
    }

    @Test func agentFilterRequiresAgent() {
        let (f, sink) = read(n("filter", "waf") { n("type", "agent"); n("failure-mode", "half-open") }, FilterConfig.read)
        #expect(f == nil)
        #expect(sink.hasError("needs \"agent\""))
        #expect(sink.hasError("unknown value \"half-open\""))
    }

    @Test func headersFilter() throws {
        let node = n("filter", "h") {
            n("type", "headers")
            n("phase", "response")
            n("rename") { n("X-Old", "X-New") }
            n("set") { n("X-Frame-Options", "DENY") }
            n("add") { n("Via", "1.1 sentinel") }
            n("remove", "Server", "X-Powered-By")
        }
        let (f, sink) = read(node, FilterConfig.read)
        #expect(sink.errors.isEmpty, "\(sink.dump)")
        guard case .headers(let h) = try #require(f).kind else { Issue.record("wrong kind"); return }
        #expect(h.phase == .response)
        #expect(h.modifications.rename.map { [$0.from, $0.to] } == [["X-Old", "X-New"]])
        #expect(h.modifications.set.map(\.value) == ["DENY"])
        #expect(h.modifications.add.map(\.name) == ["Via"])
        #expect(h.modifications.remove == ["Server", "X-Powered-By"])
    }

    @Test func headerSyntaxIsValidated() {
        let node = n("request-headers") {
            n("set") { n("Bad Name", "v"); n("X-Ok", "line\r\nInjected: 1"); n("X-Dup", "a"); n("x-dup", "b") }
            n("remove", "Good", "Bad:Name")
            n("bogus")
        }
        let (m, sink) = read(node, HeaderModifications.read)
        #expect(sink.hasError("\"Bad Name\" is not a valid HTTP header name"))
        #expect(sink.hasError("contains a line break"))
        #expect(sink.hasError("is set twice"))
        #expect(sink.hasError("\"Bad:Name\" is not a valid HTTP header name"))
        #expect(sink.hasError("unknown setting \"bogus\""))
        #expect(m.remove == ["Good"])
        #expect(m.set.map(\.name) == ["X-Dup"])
    }

    @Test func compressFilter() throws {
        let (f, sink) = read(n("filter", "z") { n("type", "compress"); n("algorithms", "br, gzip,zstd"); n("level", 4) }, FilterConfig.read)
        #expect(sink.errors.isEmpty, "\(sink.dump)")
        guard case .compress(let c) = try #require(f).kind else { Issue.record("wrong kind"); return }
        #expect(c.algorithms == [.brotli, .gzip, .zstd])
        #expect(c.level == 4)
        #expect(c.minSize == 1024)
        let (_, bad) = read(n("filter", "z") { n("type", "compress"); n("algorithms", "gzip,lzma"); n("level", 30) }, FilterConfig.read)
        #expect(bad.hasError("unknown value \"lzma\""))
        #expect(bad.hasError("outside the allowed range"))
    }

    @Test func corsDefaultsAndOptions() throws {
        let (f, sink) = read(n("filter", "c") { n("type", "cors") }, FilterConfig.read)
        #expect(sink.errors.isEmpty)
        guard case .cors(let c) = try #require(f).kind else { Issue.record("wrong kind"); return }
        #expect(c.allowedOrigins == ["*"])
        #expect(c.allowedMethods == ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"])
        #expect(c.allowedHeaders.isEmpty && c.exposedHeaders.isEmpty)
        #expect(!c.allowCredentials)
        #expect(c.maxAge == .seconds(86_400))

        let node = n("filter", "c") {
            n("type", "cors")
            n("allowed-origins", "https://app.example.com", "http://localhost:3000")
            n("allowed-methods", "get", "post")
            n("allowed-headers", "Content-Type", "Authorization")
            n("exposed-headers", "X-Request-Id")
            n("allow-credentials", true)
            n("max-age-secs", 600)
        }
        let (g, sink2) = read(node, FilterConfig.read)
        #expect(sink2.errors.isEmpty, "\(sink2.dump)")
        guard case .cors(let d) = try #require(g).kind else { Issue.record("wrong kind"); return }
        #expect(d.allowedOrigins == ["https://app.example.com", "http://localhost:3000"])
        #expect(d.allowedMethods == ["GET", "POST"])
        #expect(d.allowedHeaders == ["Content-Type", "Authorization"])
        #expect(d.allowCredentials)
        #expect(d.maxAge == .seconds(600))
    }

    @Test func corsRejectsWildcardWithCredentials() {
        let (_, sink) = read(n("filter", "c") { n("type", "cors"); n("allow-credentials", true) }, FilterConfig.read)
        #expect(sink.hasError("\"*\" in allowed-origins cannot be combined with allow-credentials"))
        let (_, sink2) = read(n("filter", "c") { n("type", "cors"); n("allowed-origins", "https://a.example/", "example.com") }, FilterConfig.read)
        #expect(sink2.errors.count == 2, "\(sink2.dump)")
        #expect(sink2.hasError("is not an origin"))
    }

    @Test func timeoutLogGeoRedirectRewrite() throws {
        let (t, s1) = read(n("filter", "t") { n("type", "timeout"); n("request-timeout-secs", 30); n("connect-timeout-secs", "500ms") }, FilterConfig.read)
        #expect(s1.errors.isEmpty, "\(s1.dump)")
        guard case .timeout(let tc) = try #require(t).kind else { Issue.record("wrong kind"); return }
        #expect(tc.requestTimeout == .seconds(30))
        #expect(tc.connectTimeout == .milliseconds(500))
        #expect(tc.upstreamTimeout == nil)

        let (l, s2) = read(n("filter", "l") { n("type", "log"); n("log-body", true); n("level", "debug") }, FilterConfig.read)
        #expect(s2.errors.isEmpty)
        guard case .log(let lc) = try #require(l).kind else { Issue.record("wrong kind"); return }
        #expect(lc.logBody && lc.logRequest && lc.logResponse)
        #expect(lc.maxBodyLogSize == 4096)
        #expect(lc.level == .debug)

        let (g, s3) = read(n("filter", "g") { n("type", "geo"); n("database-path", "/geo/country.mmdb"); n("countries", "us,CN"); n("action", "allow") }, FilterConfig.read)
        #expect(s3.errors.isEmpty, "\(s3.dump)")
        guard case .geo(let gc) = try #require(g).kind else { Issue.record("wrong kind"); return }
        #expect(gc.databaseType == .maxmind)
        #expect(gc.countries == ["US", "CN"])
        #expect(gc.action == .allow)
        #expect(gc.onFailure == .open)
        #expect(gc.statusCode == 403)
        #expect(gc.cacheTTL == .seconds(3600))
        #expect(gc.addCountryHeader)

        let (r, s4) = read(n("filter", "r") { n("type", "redirect"); n("scheme", "https"); n("status-code", 301); n("replace-prefix-match", "/new") }, FilterConfig.read)
        #expect(s4.errors.isEmpty, "\(s4.dump)")
        guard case .redirect(let rc) = try #require(r).kind else { Issue.record("wrong kind"); return }
        #expect(rc.statusCode == 301 && rc.scheme == "https" && rc.path == .prefixMatch("/new"))

        let (u, s5) = read(n("filter", "u") { n("type", "url-rewrite"); n("hostname", "internal.svc"); n("replace-full-path", "/x") }, FilterConfig.read)
        #expect(s5.errors.isEmpty, "\(s5.dump)")
        guard case .urlRewrite(let uc) = try #require(u).kind else { Issue.record("wrong kind"); return }
        #expect(uc.hostname == "internal.svc" && uc.path == .fullPath("/x"))
    }

    @Test func geoAndRedirectErrors() {
        let (g, s1) = read(n("filter", "g") { n("type", "geo"); n("countries", "USA") }, FilterConfig.read)
        #expect(g == nil)
        #expect(s1.hasError("needs \"database-path\""))
        #expect(s1.hasError("\"USA\" is not a country code"))
        let (_, s2) = read(n("filter", "g") { n("type", "geo"); n("database-path", "/geo/db.dat") }, FilterConfig.read)
        #expect(s2.hasError("cannot tell the GeoIP database type"))
        #expect(s2.hasError("needs \"countries\""))
        let (_, s3) = read(n("filter", "r") { n("type", "redirect"); n("status-code", 304); n("replace-full-path", "/a"); n("replace-prefix-match", "b") }, FilterConfig.read)
        #expect(s3.hasError("304 is not a redirect status"))
        #expect(s3.hasError("mutually exclusive"))
        #expect(s3.hasError("must start with \"/\""))
    }

    @Test func wrongTypesAreReported() {
        let (_, sink) = read(n("filter", "rl") { n("type", "rate-limit"); n("max-rps", "100"); n("burst", true) }, FilterConfig.read)
        #expect(sink.hasError("\"max-rps\" must be an integer", hint: "without quotes"))
        #expect(sink.hasError("\"burst\" must be an integer"))
    }

    @Test func missingIdIsReported() {
        let (f, sink) = read(n("filter") { n("type", "cors") }, FilterConfig.read)
        #expect(f == nil)
        #expect(sink.hasError("filter needs an id"))
    }
}
