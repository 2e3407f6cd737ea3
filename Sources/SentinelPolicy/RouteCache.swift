/// A bounded memo of recent routing decisions, owned by one thread (one event loop).
///
/// It exists to skip route evaluation for the hot set of (method, host, path) keys without any
/// locking: each event loop keeps its own cache, so it is deliberately not `Sendable`. The key
/// includes the values of every header a route tests and the raw query when a route tests
/// query parameters, so a cached answer can never differ from what the router would say.
/// A cache is bound to one `Router`; handing it a different router clears it (reload safety).
/// When full it drops about 10 % of its entries (in the dictionary's per-process randomised
/// order), which bounds memory against an attacker spraying unique paths.
public struct RouteCache {
    /// Method, host and path as they are (no string built per request); `extra` holds the query
    /// and header values only when the router tests them.
    struct Key: Hashable {
        var method: String
        var host: String
        var path: String
        var extra: String
    }
    private var entries: [Key: Int32] = [:]
    private var routerIdentity: ObjectIdentifier?
    /// Maximum number of entries (at least 1).
    public let capacity: Int
    /// Entries dropped to stay within `capacity` since this cache was created.
    public private(set) var evictions: Int = 0
    public private(set) var hits: Int = 0
    public private(set) var misses: Int = 0

    public init(capacity: Int = 1000) {
        self.capacity = max(1, capacity)
    }

    public var count: Int { entries.count }

    /// Routes `request` through `router`, answering from the cache when it can.
    /// Returns the declaration index of the winning route, or nil (negative answers are cached too).
    public mutating func matchIndex(_ request: RouteRequest, router: Router) -> Int? {
        let identity = ObjectIdentifier(router.storage)
        if identity != routerIdentity {
            entries.removeAll(keepingCapacity: true)
            routerIdentity = identity
        }
        let key = Self.key(for: request, router: router)
        if let cached = entries[key] {
            hits += 1
            return cached < 0 ? nil : Int(cached)
        }
        misses += 1
        let result = router.matchIndex(request)
        if entries.count >= capacity {
            let drop = max(1, capacity / 10)
            var keys: [Key] = []
            keys.reserveCapacity(drop)
            for candidate in entries.keys.prefix(drop) { keys.append(candidate) }
            for candidate in keys { entries.removeValue(forKey: candidate) }
            evictions += keys.count
        }
        entries[key] = result.map(Int32.init) ?? -1
        return result
    }

    /// Same as `matchIndex` but returns the route.
    public mutating func match(_ request: RouteRequest, router: Router) -> RouteSpec? {
        matchIndex(request, router: router).map { router.routes[$0] }
    }

    static func key(for request: RouteRequest, router: Router) -> Key {
        // NUL separates fields: it cannot occur in a parsed query or header value.
        var extra = ""
        if router.usesQuery {
            extra.append("\u{0}?")
            extra.append(request.query)
        }
        for name in router.headerNames {
            for value in request.headerValues(name) {
                extra.append("\u{0}")
                extra.append(name)
                extra.append("=")
                extra.append(value)
            }
            extra.append("\u{1}")
        }
        return Key(method: request.method, host: request.host, path: request.path, extra: extra)
    }
}
