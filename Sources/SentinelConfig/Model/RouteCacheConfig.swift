import KDL

/// A route's `cache { … }` block: whether and how its responses are cached. Caching also needs
/// the global `cache { … }` storage block.
public struct RouteCacheConfig: Sendable, Hashable {
    /// `enabled`: cache this route's responses.
    public var enabled = false
    /// `default-ttl-secs`: freshness when the response has no `Cache-Control` max-age.
    public var defaultTTL: Duration = .seconds(3600)
    /// `max-size-bytes`: larger responses are not stored.
    public var maxSizeBytes: Int64 = 10 << 20
    /// `cache-private`: also store responses marked `Cache-Control: private`.
    public var cachePrivate = false
    /// `stale-while-revalidate-secs`: serve stale while refreshing in the background.
    public var staleWhileRevalidate: Duration = .seconds(60)
    /// `stale-if-error-secs`: serve stale when the upstream fails.
    public var staleIfError: Duration = .seconds(300)
    /// `cacheable-methods`.
    public var cacheableMethods = ["GET", "HEAD"]
    /// `cacheable-status-codes`.
    public var cacheableStatusCodes = [200, 203, 204, 206, 300, 301, 308, 404, 410]
    /// `vary-headers`: request headers that are part of the cache key.
    public var varyHeaders: [String] = []
    /// `ignore-query-params`: query parameters left out of the cache key.
    public var ignoreQueryParams: [String] = []
    /// `exclude-extensions`: file extensions never cached (without the dot, lower-case).
    public var excludeExtensions: [String] = []
    /// `exclude-paths`: path patterns never cached.
    public var excludePaths: [String] = []

    public init() {}

    static func read(_ node: KDLNode, path: ConfigPath, sink: DiagnosticSink) -> RouteCacheConfig {
        var r = NodeReader(node, path: path.appending(node), sink: sink)
        var c = RouteCacheConfig()
        c.enabled = r.bool("enabled", default: c.enabled)
        c.defaultTTL = r.duration("default-ttl-secs", unit: .seconds, default: c.defaultTTL)!
        c.maxSizeBytes = r.size("max-size-bytes", "max-size", default: c.maxSizeBytes, range: 1...Int64.max)!
        c.cachePrivate = r.bool("cache-private", default: c.cachePrivate)
        c.staleWhileRevalidate = r.duration("stale-while-revalidate-secs", unit: .seconds, default: c.staleWhileRevalidate)!
        c.staleIfError = r.duration("stale-if-error-secs", unit: .seconds, default: c.staleIfError)!
        if let methods = r.commaList("cacheable-methods") {
            c.cacheableMethods = []
            for (m, location) in methods {
                if HTTPSyntax.isToken(m) { c.cacheableMethods.append(m.uppercased()) } else {
                    sink.error(location, r.path, "\"\(m)\" is not an HTTP method")
                }
            }
            for m in c.cacheableMethods where !["GET", "HEAD"].contains(m) {
                sink.warning(r.locationOf("cacheable-methods"), r.path, "caching \(m) responses keys them by URL only; different request bodies would share an entry")
            }
        }
        c.cacheableStatusCodes = r.intList("cacheable-status-codes", range: 100...599) ?? c.cacheableStatusCodes
        if let vary = r.commaList("vary-headers") {
            c.varyHeaders = vary.filter { HTTPSyntax.checkHeaderName($0.0, at: $0.1, r.path, sink) }.map { $0.0 }
        }
        c.ignoreQueryParams = r.commaList("ignore-query-params")?.map { $0.0 } ?? c.ignoreQueryParams
        if let exts = r.commaList("exclude-extensions") {
            c.excludeExtensions = exts.map { e in
                var s = e.0.lowercased()
                if s.hasPrefix(".") { s.removeFirst() }
                return s
            }.filter { !$0.isEmpty }
        }
        if let paths = r.commaList("exclude-paths") {
            for (p, location) in paths {
                if p.hasPrefix("/") || p.hasPrefix("*") { c.excludePaths.append(p) } else {
                    sink.error(location, r.path, "the excluded path \"\(p)\" must start with \"/\" (or \"*\")")
                }
            }
        }
        r.finish()
        return c
    }
}
