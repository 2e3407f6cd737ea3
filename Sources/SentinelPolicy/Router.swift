/// The compiled, immutable route table: given a request, the first route in
/// (priority desc, specificity desc, declaration order) whose conditions all hold.
///
/// It exists so routing stays fast at 10,000 routes without changing the answer a plain
/// ordered scan would give. Routes are indexed by the cheapest dimension that pins them down:
/// - every path condition exact or prefix → exact-path dictionary and prefix buckets keyed by
///   the first path segment (segment-aware prefixes always fix the request's first segment);
/// - otherwise every host condition exact → exact-host dictionary;
/// - otherwise → a short list scanned for every request.
/// Each request then evaluates only the union of its candidate lists, merged in rank order, and
/// stops at the first full match, so the result is exactly the linear scan's.
public struct Router: Sendable {
    final class Storage: Sendable {
        let specs: [RouteSpec]
        /// Compiled routes in evaluation order; a route's position here is its rank.
        let ordered: [CompiledRoute]
        let exactPaths: [String: [Int32]]
        let prefixBuckets: [Substring: [Int32]]
        let exactHosts: [String: [Int32]]
        let scanned: [Int32]
        let headerNames: [String]
        let usesQuery: Bool

        init(specs: [RouteSpec]) throws(RouterError) {
            var seen = Set<String>()
            var compiled: [CompiledRoute] = []
            compiled.reserveCapacity(specs.count)
            for (index, spec) in specs.enumerated() {
                guard seen.insert(spec.id).inserted else { throw .duplicateID(spec.id) }
                compiled.append(try CompiledRoute(spec, declarationIndex: index))
            }
            compiled.sort { a, b in
                if a.priority != b.priority { return a.priority > b.priority }
                if a.specificity != b.specificity { return a.specificity > b.specificity }
                return a.declarationIndex < b.declarationIndex
            }
            var exactPaths: [String: [Int32]] = [:]
            var prefixBuckets: [Substring: [Int32]] = [:]
            var exactHosts: [String: [Int32]] = [:]
            var scanned: [Int32] = []
            for (rank, route) in compiled.enumerated() {
                let rank = Int32(rank)
                let prefixSegments = route.prefixes.map(Router.prefixBucket(of:))
                let pathIndexable =
                    route.hasPathCondition && route.regexes.isEmpty && !prefixSegments.contains(nil)
                if pathIndexable {
                    // Set semantics: a route listed twice in one bucket would be evaluated twice, harmlessly,
                    // but dedupe keeps buckets small.
                    for path in Set(route.paths) { exactPaths[path, default: []].append(rank) }
                    for segment in Set(prefixSegments.map { $0! }) { prefixBuckets[segment, default: []].append(rank) }
                    continue
                }
                let exact = route.hosts.map(\.exactHost)
                if !route.hasPathCondition, !exact.isEmpty, !exact.contains(nil) {
                    for host in Set(exact.map { $0! }) { exactHosts[host, default: []].append(rank) }
                    continue
                }
                scanned.append(rank)
            }
            self.specs = specs
            self.ordered = compiled
            self.exactPaths = exactPaths
            self.prefixBuckets = prefixBuckets
            self.exactHosts = exactHosts
            self.scanned = scanned
            var names = Set<String>()
            for route in compiled { for header in route.headers { names.insert(header.name) } }
            self.headerNames = names.sorted()
            self.usesQuery = compiled.contains { !$0.queryParams.isEmpty }
        }
    }

    let storage: Storage

    /// Compiles `routes`; throws on a route without conditions, a duplicate id or an invalid pattern.
    public init(routes: [RouteSpec]) throws(RouterError) {
        storage = try Storage(specs: routes)
    }

    /// The routes as given, in declaration order.
    public var routes: [RouteSpec] { storage.specs }
    /// Header names (lowercase) that some route tests; a cache key must include their values.
    public var headerNames: [String] { storage.headerNames }
    /// Whether some route tests query parameters; a cache key must then include the query.
    public var usesQuery: Bool { storage.usesQuery }

    /// The winning route, or nil when none matches.
    public func match(_ request: RouteRequest) -> RouteSpec? {
        matchIndex(request).map { storage.specs[$0] }
    }

    /// The declaration index (position in `routes`) of the winning route.
    public func matchIndex(_ request: RouteRequest) -> Int? {
        let normalized = NormalizedRequest(request)
        let s = storage
        let empty: [Int32] = []
        let lists = (
            s.exactPaths[request.path] ?? empty,
            Router.requestBucket(of: request.path).flatMap { s.prefixBuckets[$0] } ?? empty,
            s.exactHosts[normalized.host] ?? empty,
            s.scanned
        )
        var cursors = (0, 0, 0, 0)
        var query: [(name: String, value: String)]? = nil
        var last: Int32 = -1
        while true {
            // Next smallest rank among the four sorted lists.
            var next = Int32.max
            if cursors.0 < lists.0.count { next = min(next, lists.0[cursors.0]) }
            if cursors.1 < lists.1.count { next = min(next, lists.1[cursors.1]) }
            if cursors.2 < lists.2.count { next = min(next, lists.2[cursors.2]) }
            if cursors.3 < lists.3.count { next = min(next, lists.3[cursors.3]) }
            if next == Int32.max { return nil }
            if cursors.0 < lists.0.count, lists.0[cursors.0] == next { cursors.0 += 1 }
            if cursors.1 < lists.1.count, lists.1[cursors.1] == next { cursors.1 += 1 }
            if cursors.2 < lists.2.count, lists.2[cursors.2] == next { cursors.2 += 1 }
            if cursors.3 < lists.3.count, lists.3[cursors.3] == next { cursors.3 += 1 }
            if next == last { continue }
            last = next
            let route = s.ordered[Int(next)]
            if route.matches(normalized, query: &query) { return route.declarationIndex }
        }
    }

    /// Reference implementation: a plain scan of every route in rank order. For tests and diagnostics.
    public func matchIndexLinear(_ request: RouteRequest) -> Int? {
        let normalized = NormalizedRequest(request)
        var query: [(name: String, value: String)]? = nil
        for route in storage.ordered where route.matches(normalized, query: &query) {
            return route.declarationIndex
        }
        return nil
    }

    /// Route ids in evaluation order (for `explain`-style diagnostics and tests).
    public var evaluationOrder: [String] { storage.ordered.map { storage.specs[$0.declarationIndex].id } }

    /// First segment a segment-aware prefix pins down, or nil when it pins none ("/" or not rooted).
    static func prefixBucket(of prefix: String) -> Substring? {
        guard prefix.hasPrefix("/") else { return nil }
        let rest = prefix.dropFirst()
        if let slash = rest.firstIndex(of: "/") { return rest[..<slash] }
        // "/" itself ends with "/" and matches everything; "/abc" pins the first segment to "abc".
        return rest.isEmpty ? nil : rest
    }

    static func requestBucket(of path: String) -> Substring? {
        guard path.hasPrefix("/") else { return nil }
        let rest = path.dropFirst()
        if let slash = rest.firstIndex(of: "/") { return rest[..<slash] }
        return rest
    }
}
