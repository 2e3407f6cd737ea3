import Testing

@testable import SentinelPolicy

/// An independent, deliberately naive model of §5.1 (plus OR-within-kind): no indexes, no shared code.
private enum Naive {
    static func host(_ raw: String) -> String {
        var h = raw.lowercased()
        if let c = h.firstIndex(of: ":") { h = String(h[..<c]) }
        return h
    }

    static func score(_ r: RouteSpec) -> Int {
        var p = 0
        if !r.paths.isEmpty { p = 10_000 }
        if !r.pathRegexes.isEmpty { p = max(p, 5_000) }
        for x in r.pathPrefixes { p = max(p, 1_000 + x.count) }
        var h = 0
        for x in r.hosts { h = max(h, x.hasPrefix("*.") ? 50 : 70) }
        let hd = r.headers.reduce(0) { $0 + ($1.value == nil ? 20 : 30) }
        let q = r.queryParams.reduce(0) { $0 + ($1.value == nil ? 15 : 25) }
        return p + h + hd + q + 10 * r.methods.count
    }

    static func matches(_ r: RouteSpec, method: String, host: String, path: String, query: [(String, String)], headers: [(String, String)]) -> Bool {
        let pathOK = (r.paths.isEmpty && r.pathPrefixes.isEmpty && r.pathRegexes.isEmpty)
            || r.paths.contains(path)
            || r.pathPrefixes.contains { pre in
                path == pre || (path.hasPrefix(pre) && (pre.hasSuffix("/") || path.dropFirst(pre.count).hasPrefix("/")))
            }
            || r.pathRegexes.contains { (try? Regex($0).firstMatch(in: path)) != nil }
        let h = Naive.host(host)
        let hostOK = r.hosts.isEmpty || r.hosts.contains { pat in
            pat.hasPrefix("*.") ? (h.hasSuffix(pat.dropFirst()) && h.count > pat.count - 1) : h == pat
        }
        let methodOK = r.methods.isEmpty || r.methods.contains(method.uppercased())
        let headerOK = r.headers.isEmpty || r.headers.contains { c in
            headers.contains { $0.0.lowercased() == c.name && (c.value == nil || $0.1 == c.value) }
        }
        let queryOK = r.queryParams.isEmpty || r.queryParams.contains { c in
            query.contains { $0.0 == c.name && (c.value == nil || $0.1 == c.value) }
        }
        return pathOK && hostOK && methodOK && headerOK && queryOK
    }

    static func winner(_ routes: [RouteSpec], method: String, host: String, path: String, query: String, headers: [(String, String)]) -> String? {
        let q: [(String, String)] = query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
        let order = routes.indices.sorted { a, b in
            if routes[a].priority != routes[b].priority { return routes[a].priority > routes[b].priority }
            let sa = score(routes[a]), sb = score(routes[b])
            if sa != sb { return sa > sb }
            return a < b
        }
        for i in order where matches(routes[i], method: method, host: host, path: path, query: q, headers: headers) {
            return routes[i].id
        }
        return nil
    }
}

@Suite struct RouterProperty {
    static let segments = ["", "a", "ab", "api", "v1", "v2", "x"]
    static let hosts = ["a.com", "b.com", "x.a.com", "y.x.a.com", "A.COM:8080"]
    static let methods = ["GET", "POST", "put"]

    static func randomPath(_ rng: inout SplitMixRandom) -> String {
        let n = Int.random(in: 0...3, using: &rng)
        var p = ""
        for _ in 0..<n { p += "/" + segments.randomElement(using: &rng)! }
        if p.isEmpty || Bool.random(using: &rng) && Int.random(in: 0..<4, using: &rng) == 0 { p += "/" }
        return p
    }

    static func randomRoute(_ i: Int, _ rng: inout SplitMixRandom) -> RouteSpec {
        var r = RouteSpec(id: "r\(i)", priority: [0, 10, 50, 50, 50, 100].randomElement(using: &rng)!, handler: i)
        func chance(_ n: Int) -> Bool { Int.random(in: 0..<n, using: &rng) == 0 }
        for _ in 0..<Int.random(in: 0...2, using: &rng) { r.paths.append(randomPath(&rng)) }
        for _ in 0..<Int.random(in: 0...2, using: &rng) { r.pathPrefixes.append(randomPath(&rng)) }
        if chance(6) { r.pathRegexes.append(["^/a", "v[12]$", "^/api/v1/x$"].randomElement(using: &rng)!) }
        if chance(3) { r.hosts.append(["a.com", "b.com", "*.a.com", "x.a.com"].randomElement(using: &rng)!) }
        if chance(6) { r.hosts.append("*.x.a.com") }
        if chance(4) { r.methods.append(methods.randomElement(using: &rng)!.uppercased()) }
        if chance(8) { r.headers.append(.init(name: "x-h", value: chance(2) ? nil : "1")) }
        if chance(8) { r.queryParams.append(.init(name: "k", value: chance(2) ? nil : "v")) }
        if r.hasNoConditions { r.pathPrefixes.append("/") }
        return r
    }

    @Test(arguments: 0..<40)
    func fastRouterAgreesWithNaiveReference(seed: Int) throws {
        var rng = SplitMixRandom(seed: UInt64(seed) &* 7919 &+ 1)
        let routes = (0..<Int.random(in: 1...60, using: &rng)).map { Self.randomRoute($0, &rng) }
        let router = try Router(routes: routes)
        var cache = RouteCache(capacity: 16)
        for _ in 0..<300 {
            let method = Self.methods.randomElement(using: &rng)!
            let host = Self.hosts.randomElement(using: &rng)!
            let path = Self.randomPath(&rng)
            let query = ["", "k", "k=v", "k=w&z=1"].randomElement(using: &rng)!
            let headers: [(String, String)] = [[], [("X-H", "1")], [("x-h", "2")]].randomElement(using: &rng)!
            let request = RouteRequest(method: method, host: host, path: path, query: query, headers: headers)
            let expected = Naive.winner(routes, method: method, host: host, path: path, query: query, headers: headers)
            #expect(router.match(request)?.id == expected, "seed \(seed): \(method) \(host) \(path)?\(query) \(headers)")
            #expect(cache.match(request, router: router)?.id == expected)
        }
    }

    @Test func tenThousandRoutesMatchQuickly() throws {
        var routes: [RouteSpec] = []
        for i in 0..<5_000 { routes.append(RouteSpec(id: "e\(i)", paths: ["/svc\(i)/health"])) }
        for i in 0..<4_000 { routes.append(RouteSpec(id: "p\(i)", pathPrefixes: ["/svc\(i)/api"])) }
        for i in 0..<990 { routes.append(RouteSpec(id: "h\(i)", hosts: ["tenant\(i).example.com"])) }
        for i in 0..<10 { routes.append(RouteSpec(id: "r\(i)", pathRegexes: ["^/re\(i)/"])) }
        let router = try Router(routes: routes)
        let clock = ContinuousClock()
        let start = clock.now
        var found = 0
        for i in 0..<2_000 {
            if router.match(RouteRequest(method: "GET", host: "x", path: "/svc\(i)/api/v1")) != nil { found += 1 }
            if router.match(RouteRequest(method: "GET", host: "tenant\(i % 990).example.com", path: "/zz")) != nil { found += 1 }
        }
        let elapsed = clock.now - start
        #expect(found == 4_000)
        #expect(router.match(RouteRequest(method: "GET", host: "x", path: "/svc4999/health"))?.id == "e4999")
        // Each lookup touches a handful of candidates plus 10 regex routes, never 10,000.
        #expect(elapsed < .seconds(10))
    }
}
