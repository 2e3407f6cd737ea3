import Testing

@testable import SentinelPolicy

private func req(
    _ method: String, host: String = "example.com", _ path: String, query: String = "",
    headers: [(String, String)] = []
) -> RouteRequest {
    RouteRequest(method: method, host: host, path: path, query: query, headers: headers)
}

private func req(
    host: String = "example.com", _ path: String, query: String = "", headers: [(String, String)] = []
) -> RouteRequest {
    RouteRequest(method: "GET", host: host, path: path, query: query, headers: headers)
}

private func winner(_ routes: [RouteSpec], _ request: RouteRequest) throws -> String? {
    let router = try Router(routes: routes)
    let fast = router.match(request)?.id
    let linear = router.matchIndexLinear(request).map { routes[$0].id }
    #expect(fast == linear)
    return fast
}

@Suite struct PathMatching {
    @Test func exactPath() throws {
        let routes = [RouteSpec(id: "a", paths: ["/a"])]
        #expect(try winner(routes, req("/a")) == "a")
        #expect(try winner(routes, req("/a/")) == nil)
        #expect(try winner(routes, req("/ab")) == nil)
    }

    @Test func prefixIsSegmentAware() throws {
        let routes = [RouteSpec(id: "v2", pathPrefixes: ["/v2"])]
        #expect(try winner(routes, req("/v2")) == "v2")
        #expect(try winner(routes, req("/v2/x")) == "v2")
        #expect(try winner(routes, req("/v2/")) == "v2")
        #expect(try winner(routes, req("/v2x")) == nil)
        #expect(try winner(routes, req("/v")) == nil)
    }

    @Test func prefixEndingInSlashMatchesAnythingUnderIt() throws {
        let routes = [RouteSpec(id: "api", pathPrefixes: ["/api/"]), RouteSpec(id: "root", priority: 0, pathPrefixes: ["/"])]
        #expect(try winner(routes, req("/api/")) == "api")
        #expect(try winner(routes, req("/api/users/1")) == "api")
        #expect(try winner(routes, req("/api")) == "root")
        #expect(try winner(routes, req("/anything")) == "root")
        #expect(try winner(routes, req("/")) == "root")
    }

    @Test func multiSegmentPrefix() throws {
        let routes = [RouteSpec(id: "x", pathPrefixes: ["/a/b"])]
        #expect(try winner(routes, req("/a/b")) == "x")
        #expect(try winner(routes, req("/a/b/c")) == "x")
        #expect(try winner(routes, req("/a/bc")) == nil)
        #expect(try winner(routes, req("/a")) == nil)
    }

    @Test func regexSearchesTheFullPath() throws {
        let routes = [RouteSpec(id: "r", pathRegexes: ["^/v[0-9]+/items$"]), RouteSpec(id: "s", pathRegexes: ["\\.php"])]
        #expect(try winner(routes, req("/v12/items")) == "r")
        #expect(try winner(routes, req("/v12/items/x")) == nil)
        #expect(try winner(routes, req("/x/index.php")) == "s")
    }

    @Test func invalidRegexIsReported() {
        #expect(throws: RouterError.self) { try Router(routes: [RouteSpec(id: "bad", pathRegexes: ["(unclosed"])]) }
        do {
            _ = try Router(routes: [RouteSpec(id: "bad", pathRegexes: ["(unclosed"])])
        } catch {
            #expect(error.routeID == "bad")
            #expect(error.description.contains("path-regex"))
        }
    }

    @Test func routeWithoutConditionsAndDuplicateIDsAreRejected() {
        #expect(throws: RouterError.self) { try Router(routes: [RouteSpec(id: "empty")]) }
        #expect(throws: RouterError.self) {
            try Router(routes: [RouteSpec(id: "a", paths: ["/"]), RouteSpec(id: "a", paths: ["/x"])])
        }
    }
}

@Suite struct HostMatching {
    @Test func exactIsCaseInsensitiveAndPortIsStripped() throws {
        let routes = [RouteSpec(id: "h", pathPrefixes: ["/"], hosts: ["API.example.com"])]
        #expect(try winner(routes, req(host: "api.EXAMPLE.com:8443", "/x")) == "h")
        #expect(try winner(routes, req(host: "api.example.com.", "/x")) == "h")
        #expect(try winner(routes, req(host: "web.example.com", "/x")) == nil)
    }

    @Test func wildcardNeedsAnExtraLabel() throws {
        let routes = [RouteSpec(id: "w", hosts: ["*.example.com"])]
        #expect(try winner(routes, req(host: "a.example.com", "/")) == "w")
        #expect(try winner(routes, req(host: "a.b.example.com:80", "/")) == "w")
        #expect(try winner(routes, req(host: "example.com", "/")) == nil)
        #expect(try winner(routes, req(host: "badexample.com", "/")) == nil)
    }

    @Test func otherPatternsAreWholeMatchRegexes() throws {
        let routes = [RouteSpec(id: "r", hosts: ["api-[0-9]+\\.example\\.com"])]
        #expect(try winner(routes, req(host: "API-7.example.com", "/")) == "r")
        #expect(try winner(routes, req(host: "api-7.example.com.evil.net", "/")) == nil)
    }

    @Test func normalisationStripsPortsIncludingIPv6() {
        #expect(HostPattern.normalize("[::1]:8080") == "[::1]")
        #expect(HostPattern.normalize("LOCALHOST:80") == "localhost")
        #expect(HostPattern.normalize("example.com.") == "example.com")
    }
}

@Suite struct OtherConditions {
    @Test func headerNamesAreCaseInsensitiveValuesExact() throws {
        let routes = [
            RouteSpec(id: "v", pathPrefixes: ["/"], headers: [.init(name: "X-Tenant", value: "acme")]),
            RouteSpec(id: "p", priority: 0, pathPrefixes: ["/"], headers: [.init(name: "x-debug")]),
        ]
        #expect(try winner(routes, req("/", headers: [("x-tenant", "acme")])) == "v")
        #expect(try winner(routes, req("/", headers: [("X-TENANT", "Acme")])) == nil)
        #expect(try winner(routes, req("/", headers: [("X-Debug", "")])) == "p")
        #expect(try winner(routes, req("/")) == nil)
    }

    @Test func methodsAreUppercased() throws {
        let routes = [RouteSpec(id: "m", paths: ["/"], methods: ["get", "Post"])]
        #expect(try winner(routes, req("get", "/")) == "m")
        #expect(try winner(routes, req("POST", "/")) == "m")
        #expect(try winner(routes, req("DELETE", "/")) == nil)
    }

    @Test func queryParamsArePercentDecoded() throws {
        let routes = [
            RouteSpec(id: "v", paths: ["/s"], queryParams: [.init(name: "q", value: "a b")]),
            RouteSpec(id: "p", priority: 0, paths: ["/s"], queryParams: [.init(name: "debug")]),
        ]
        #expect(try winner(routes, req("/s", query: "x=1&q=a%20b")) == "v")
        #expect(try winner(routes, req("/s", query: "%71=a%20b")) == "v")
        #expect(try winner(routes, req("/s", query: "q=ab&debug")) == "p")
        #expect(try winner(routes, req("/s", query: "q=ab")) == nil)
        #expect(QueryString.parse("a=%zz&b=%4").map(\.value) == ["%zz", "%4"])
    }

    @Test func sameKindIsOredDifferentKindsAreAnded() throws {
        let routes = [
            RouteSpec(
                id: "r", paths: ["/a", "/b"], hosts: ["x.com", "y.com"], headers: [.init(name: "h1"), .init(name: "h2")],
                methods: ["GET", "PUT"], queryParams: [.init(name: "k1"), .init(name: "k2")])
        ]
        #expect(try winner(routes, req("PUT", host: "y.com", "/b", query: "k2", headers: [("h2", "")])) == "r")
        #expect(try winner(routes, req("GET", host: "x.com", "/a", query: "k1", headers: [("h1", "")])) == "r")
        // Each kind must hold.
        #expect(try winner(routes, req("POST", host: "x.com", "/a", query: "k1", headers: [("h1", "")])) == nil)
        #expect(try winner(routes, req("GET", host: "z.com", "/a", query: "k1", headers: [("h1", "")])) == nil)
        #expect(try winner(routes, req("GET", host: "x.com", "/c", query: "k1", headers: [("h1", "")])) == nil)
        #expect(try winner(routes, req("GET", host: "x.com", "/a", query: "k3", headers: [("h1", "")])) == nil)
        #expect(try winner(routes, req("GET", host: "x.com", "/a", query: "k1")) == nil)
        // Mixed path kinds are ORed too.
        let mixed = [RouteSpec(id: "m", paths: ["/exact"], pathPrefixes: ["/pre"], pathRegexes: ["^/re$"])]
        #expect(try winner(mixed, req("/exact")) == "m")
        #expect(try winner(mixed, req("/pre/x")) == "m")
        #expect(try winner(mixed, req("/re")) == "m")
        #expect(try winner(mixed, req("/other")) == nil)
    }
}

@Suite struct Ordering {
    @Test func specificityScores() {
        #expect(RouteSpec(id: "", paths: ["/a"], pathPrefixes: ["/abc"]).specificity == 10_000)
        #expect(RouteSpec(id: "", pathRegexes: ["x"]).specificity == 5_000)
        #expect(RouteSpec(id: "", pathPrefixes: ["/ab", "/abcd"]).specificity == 1_005)
        #expect(RouteSpec(id: "", hosts: ["*.a.com", "a.com"]).specificity == 70)
        #expect(RouteSpec(id: "", hosts: ["*.a.com", "a[0-9].com"]).specificity == 60)
        #expect(RouteSpec(id: "", hosts: ["*.a.com"]).specificity == 50)
        #expect(RouteSpec(id: "", headers: [.init(name: "a", value: "1"), .init(name: "b")]).specificity == 50)
        #expect(RouteSpec(id: "", methods: ["GET", "HEAD"]).specificity == 20)
        #expect(RouteSpec(id: "", queryParams: [.init(name: "a", value: "1"), .init(name: "b")]).specificity == 40)
    }

    @Test func priorityBeatsSpecificity() throws {
        let routes = [
            RouteSpec(id: "exact", priority: 10, paths: ["/x"]),
            RouteSpec(id: "catchall", priority: 100, pathPrefixes: ["/"]),
        ]
        #expect(try winner(routes, req("/x")) == "catchall")
    }

    @Test func specificityBreaksTiesThenDeclarationOrder() throws {
        let routes = [
            RouteSpec(id: "short", pathPrefixes: ["/api"]),
            RouteSpec(id: "long", pathPrefixes: ["/api/v1"]),
            RouteSpec(id: "regex", pathRegexes: ["^/api/v1/"]),
            RouteSpec(id: "exact", paths: ["/api/v1/x"]),
            RouteSpec(id: "first", pathPrefixes: ["/z"]),
            RouteSpec(id: "second", pathPrefixes: ["/z"]),
        ]
        #expect(try winner(routes, req("/api/v1/x")) == "exact")
        #expect(try winner(routes, req("/api/v1/y")) == "regex")
        #expect(try winner(routes, req("/api/v1")) == "long")
        #expect(try winner(routes, req("/api/v2")) == "short")
        #expect(try winner(routes, req("/z")) == "first")
        let router = try Router(routes: routes)
        #expect(router.evaluationOrder == ["exact", "regex", "long", "short", "first", "second"])
    }

    @Test func hostAndMethodAddToSpecificity() throws {
        let routes = [
            RouteSpec(id: "plain", pathPrefixes: ["/"]),
            RouteSpec(id: "wild", pathPrefixes: ["/"], hosts: ["*.example.com"]),
            RouteSpec(id: "host", pathPrefixes: ["/"], hosts: ["a.example.com"]),
            RouteSpec(id: "method", pathPrefixes: ["/"], hosts: ["a.example.com"], methods: ["POST"]),
        ]
        #expect(try winner(routes, req("POST", host: "a.example.com", "/")) == "method")
        #expect(try winner(routes, req("GET", host: "a.example.com", "/")) == "host")
        #expect(try winner(routes, req("GET", host: "b.example.com", "/")) == "wild")
        #expect(try winner(routes, req("GET", host: "other", "/")) == "plain")
    }
}

@Suite struct Cache {
    @Test func cachesAndBoundsAndEvicts() throws {
        let router = try Router(routes: [RouteSpec(id: "all", pathPrefixes: ["/"]), RouteSpec(id: "a", paths: ["/a"])])
        var cache = RouteCache(capacity: 20)
        #expect(cache.match(req("/a"), router: router)?.id == "a")
        #expect(cache.match(req("/a"), router: router)?.id == "a")
        #expect(cache.hits == 1 && cache.misses == 1)
        for i in 0..<100 { _ = cache.matchIndex(req("/p\(i)"), router: router) }
        #expect(cache.count <= 20)
        #expect(cache.evictions > 0)
    }

    @Test func newRouterClearsTheCache() throws {
        let old = try Router(routes: [RouteSpec(id: "old", paths: ["/x"])])
        let new = try Router(routes: [RouteSpec(id: "new", paths: ["/x"])])
        var cache = RouteCache(capacity: 10)
        #expect(cache.match(req("/x"), router: old)?.id == "old")
        #expect(cache.match(req("/x"), router: new)?.id == "new")
        #expect(cache.count == 1)
    }

    @Test func keyIncludesTestedHeadersAndQuery() throws {
        let router = try Router(routes: [
            RouteSpec(id: "beta", pathPrefixes: ["/"], headers: [.init(name: "x-beta", value: "1")]),
            RouteSpec(id: "q", pathPrefixes: ["/"], queryParams: [.init(name: "v", value: "2")]),
            RouteSpec(id: "all", priority: 0, pathPrefixes: ["/"]),
        ])
        var cache = RouteCache()
        #expect(cache.match(req("/", headers: [("X-Beta", "1")]), router: router)?.id == "beta")
        #expect(cache.match(req("/"), router: router)?.id == "all")
        #expect(cache.match(req("/", query: "v=2"), router: router)?.id == "q")
        #expect(cache.match(req("/", headers: [("x-beta", "1")]), router: router)?.id == "beta")
    }
}

/// A route written without conditions on purpose (`matchesEverything`, the original's catch-all).
@Suite struct CatchAllRoutes {
    @Test func catchAllTakesWhatNoOtherRouteTakes() throws {
        let routes = [
            RouteSpec(id: "rest", priority: 10, matchesEverything: true),
            RouteSpec(id: "api", pathPrefixes: ["/api"]),
            RouteSpec(id: "host-low", priority: 10, hosts: ["low.example.com"]),
        ]
        #expect(try winner(routes, req("/api/x")) == "api")
        #expect(try winner(routes, req("/anything")) == "rest")
        #expect(try winner(routes, req("POST", "/"))  == "rest")
        // Equal priority: any route with a condition is tried before the catch-all.
        #expect(try winner(routes, req(host: "low.example.com", "/x")) == "host-low")
    }

    @Test func noConditionsWithoutTheFlagIsStillRefused() {
        #expect(throws: RouterError.noConditions("x")) { try Router(routes: [RouteSpec(id: "x")]) }
    }
}
