/// Keys that published configurations for the original proxy carry although the original never
/// read them. Sentinel refuses them like any unknown key, but says that the setting never
/// worked and what to write instead, so a migrating operator does not go looking for a lost
/// feature.
///
/// `parent` is the node path with ids left out (`routes > route`); it matches at the top level
/// and inside namespaces and services. Consulted by `NodeReader.finish` (unknown keys), by
/// the scalar reader (a block where a value is expected) and by the top-level reader.
enum StaleKeys {
    struct Entry: Sendable {
        var parent: String
        var key: String
        /// What to write instead; shown after "the original ignores this key too; ".
        var instead: String
    }

    static let table: [Entry] = [
        Entry(parent: "routes > route", key: "circuit-breaker",
              instead: "circuit breakers are set on the upstream: upstreams { upstream \"…\" { circuit-breaker { … } } }"),
        Entry(parent: "routes > route", key: "websocket {}",
              instead: "WebSocket upgrades are allowed per route with websocket #true"),
        Entry(parent: "", key: "websocket",
              instead: "WebSocket upgrades are allowed per route with websocket #true in the route"),
        Entry(parent: "routes > route > policies", key: "cache",
              instead: "a route's caching is its own cache { enabled #true … } block, next to policies (with the top-level cache block)"),
        Entry(parent: "observability > tracing", key: "enabled",
              instead: "tracing is on when the tracing block is written; leave out enabled (or the whole block)"),
        Entry(parent: "upstreams > upstream", key: "server",
              instead: "write each backend as target \"host:port\""),
        Entry(parent: "upstreams > upstream > targets", key: "server",
              instead: "write each backend as target \"host:port\""),
        Entry(parent: "routes > route", key: "error-pages",
              instead: "the original reads error-pages only from JSON or TOML configuration; Sentinel's own error replies are JSON"),
        Entry(parent: "", key: "error-pages",
              instead: "the original reads error-pages only from JSON or TOML configuration; Sentinel's own error replies are JSON"),
        Entry(parent: "upstreams > upstream > tls", key: "verify",
              instead: "certificates are always verified unless insecure-skip-verify #true"),
        Entry(parent: "filters > filter", key: "redis-fallback-local",
              instead: "the fallback to a local limiter is redis-fallback #true"),
        Entry(parent: "filters > filter", key: "memcached-fallback-local",
              instead: "the fallback to a local limiter is memcached-fallback #true"),
        Entry(parent: "filters > filter", key: "memcached-ttl-secs",
              instead: "the counter lifetime in seconds is memcached-ttl"),
        Entry(parent: "listeners > listener > tls", key: "cipher-suites {}",
              instead: "list the suites as values: cipher-suites \"TLS_AES_128_GCM_SHA256\" \"TLS_AES_256_GCM_SHA384\""),
        Entry(parent: "routes > route", key: "back-to",
              instead: "a route names its upstream with upstream \"<upstream-id>\""),
        Entry(parent: "routes > route > policies", key: "rewrite-path",
              instead: "paths are rewritten by a url-rewrite filter"),
        Entry(parent: "routes > route > inference > model-routing", key: "model-header",
              instead: "model-header is a setting of the inference block itself"),
        Entry(parent: "routes > route > fallback", key: "upstream",
              instead: "each fallback is a fallback-upstream \"<upstream-id>\" { … }"),
        Entry(parent: "routes > route > fallback", key: "model-mapping",
              instead: "model-mapping { … } goes inside each fallback-upstream \"…\" { }"),
        Entry(parent: "observability > metrics", key: "endpoint",
              instead: "the scrape path is path \"/metrics\" (and address \"…\" for a listener of its own)"),
        Entry(parent: "cache", key: "backend {}",
              instead: "the original reads only the backend's name: backend \"memory\""),
        Entry(parent: "waf > ruleset", key: "exclusions",
              instead: "write each exclusion { rule-ids …; scope … } directly inside ruleset"),
        Entry(parent: "routes > route > inference", key: "token-estimation",
              instead: "the estimation method is set in the token limit: rate-limit { estimation-method \"chars\" }"),
        Entry(parent: "routes > route > inference > rate-limit", key: "key",
              instead: "the token limit reads only tokens-per-minute, requests-per-minute, burst-tokens and estimation-method"),
        Entry(parent: "routes > route > inference > budget", key: "key",
              instead: "the budget reads only period, limit, alert-thresholds, enforce, rollover, burst-allowance and max-tenants"),
        Entry(parent: "routes > route > inference > model-routing", key: "mappings",
              instead: "write each rule directly in model-routing: model \"claude-3-*\" upstream=\"anthropic\""),
        Entry(parent: "routes > route > inference > cost-attribution", key: "models",
              instead: "per-model prices go in pricing { model \"…\" { … } }"),
        Entry(parent: "routes > route > inference > guardrails > pii-detection", key: "detect-types",
              instead: "the kinds of PII are listed as categories \"ssn,email\""),
        Entry(parent: "observability > logging", key: "file",
              instead: "the process log is JSON lines on stderr (redirect it, or let systemd's journal keep it); requests go to access-log { file \"…\" }"),
        Entry(parent: "observability > logging > access-log", key: "fields",
              instead: "an access-log line has a fixed set of fields per format (json, combined, common)"),
    ]

    static let prefix = "the original ignores this key too; "

    /// The hint for `key` under `parent`, if it is a known stale key. `block`: the key was
    /// written as a block where a value is expected (`websocket { enabled #true }`).
    static func hint(parent: ConfigPath, key: String, block: Bool = false) -> String? {
        let pattern = parent.pattern
        let name = block ? key + " {}" : key
        for e in table where e.key == name {
            let scopes = ["", "namespace > ", "namespace > service > "]
            if scopes.contains(where: { $0 + e.parent == pattern || (e.parent.isEmpty && $0 == pattern + " > ") }) {
                return prefix + e.instead
            }
        }
        return nil
    }
}

extension ConfigPath {
    /// The path with ids left out: `routes > route "api" > policies` → `routes > route > policies`.
    var pattern: String {
        description.split(separator: ">", omittingEmptySubsequences: false).map { raw in
            let part = raw.trimmingPrefix(" ")
            let name = part.split(separator: " ", maxSplits: 1).first.map(String.init) ?? String(part)
            return name.hasSuffix(" ") ? String(name.dropLast()) : name
        }.joined(separator: " > ")
    }
}
