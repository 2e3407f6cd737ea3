import SentinelHTTP1
import SentinelPolicy
import Testing

@testable import SentinelProxy

/// The admission phases (`Sources/SentinelProxy/Admission/`) decided on crafted heads and
/// hand-built snapshots, without sockets: each phase's verdict, and the snapshot's resolution of
/// routes that the phases rely on.
@Suite struct AdmissionTests {
    // MARK: - Fixtures

    /// A snapshot with a builtin route (`/status`), a proxied route (`/api`, upstream 0, 1 KiB
    /// body limit), a WebSocket route (`/ws`) and a route whose upstream does not exist (`/gone`).
    static func snapshot(defaultRoute: Int? = nil, metricsPath: String? = nil, routeSet: Int = 0) throws -> ServerSnapshot {
        let routes = [
            RouteSpec(id: "status", paths: ["/status"], handler: 0),
            RouteSpec(id: "api", pathPrefixes: ["/api"], handler: 1),
            RouteSpec(id: "ws", pathPrefixes: ["/ws"], handler: 2),
            RouteSpec(id: "gone", pathPrefixes: ["/gone"], handler: 3),
            RouteSpec(id: "dangling", pathPrefixes: ["/dangling"], handler: 99),
        ]
        var hashed = UpstreamResilience(hashKey: .header("x-user"))
        hashed.balancer.algorithm = .consistentHash
        return ServerSnapshot(
            listeners: [.init(id: "main", port: 0, defaultRoute: defaultRoute, metricsPath: metricsPath, routeSet: routeSet)],
            router: try Router(routes: routes),
            actions: [
                .builtin(.status),
                .proxy(ProxyRoute(upstream: 0, maxBodyBytes: 1024)),
                .proxy(ProxyRoute(upstream: 1, websocket: true)),
                .proxy(ProxyRoute(upstream: 7)),
            ],
            limits: .init(maxBodyBytes: 4096), instanceID: "test", version: "0",
            upstreams: [
                UpstreamRuntime(id: "app", targets: [.init(host: "127.0.0.1", port: 1)], resilience: hashed),
                UpstreamRuntime(id: "sockets", targets: [.init(host: "127.0.0.1", port: 2)]),
            ])
    }

    /// A parsed head and its bytes.
    struct Parsed {
        var head: RequestHead
        var bytes: [UInt8]

        init(_ text: String) throws {
            bytes = Array(text.utf8)
            var parser = HTTP1RequestHeadParser()
            let result = bytes.withUnsafeBytes { parser.parse($0) }
            guard case .head(let head) = result else { throw Unparsed(result: "\(result)") }
            self.head = head
        }

        func facts(_ routes: ListenerRoutes) -> RequestFacts {
            bytes.withUnsafeBytes { RequestFacts(head, bytes: $0, routedHeaderNames: routes.router.headerNames) }
        }

        func withHead<T>(_ body: (HeadBytes) -> T) -> T {
            bytes.withUnsafeBytes { body(HeadBytes($0, head: head)) }
        }
    }

    struct Unparsed: Error { var result: String }

    /// Route, then admit, as the driver runs them.
    func admit(_ text: String, snapshot: ServerSnapshot? = nil, keepAlive: Bool = true) throws -> AdmitPhase.Verdict {
        let s = try snapshot ?? Self.snapshot()
        let routes = s.routes(forListener: "main")
        let request = try Parsed(text)
        var cache = RouteCache(capacity: 10)
        let route = RoutePhase.route(request.facts(routes), in: routes, cache: &cache).route
        let body = BodyCounter(
            framing: request.head.framing, limit: AdmitPhase.bodyLimit(route, default: s.limits.maxBodyBytes), limits: HTTP1Limits())
        return request.withHead { AdmitPhase.decide(request.head, $0, route: route, body: body, keepAlive: keepAlive) }
    }

    func answer(_ verdict: AdmitPhase.Verdict) -> LocalAnswer? {
        if case .answer(let answer) = verdict { return answer }
        return nil
    }

    func plan(_ verdict: AdmitPhase.Verdict) -> (plan: ProxyPlan, maxForwards: Int?)? {
        if case .proxy(let plan, let maxForwards) = verdict { return (plan, maxForwards) }
        return nil
    }

    // MARK: - Route

    @Test func aRouteResolvesToItsIDAndAction() throws {
        let routes = try Self.snapshot().routes(forListener: "main")
        var cache = RouteCache(capacity: 10)
        let status = RoutePhase.route(try Parsed("GET /status HTTP/1.1\r\nHost: a\r\n\r\n").facts(routes), in: routes, cache: &cache)
        #expect(status.route?.id == "status")
        guard case .builtin(.status)? = status.route?.action else { Issue.record("status is not the status builtin"); return }
        let api = RoutePhase.route(try Parsed("GET /api/x HTTP/1.1\r\nHost: a\r\n\r\n").facts(routes), in: routes, cache: &cache)
        guard case .proxy(let plan)? = api.route?.action else { Issue.record("api is not proxied"); return }
        #expect(plan.route.upstream == 0 && plan.upstream?.runtime.id == "app")
    }

    @Test func aMissWithoutDefaultRouteIsRefusedWith404KeepingTheConnection() throws {
        let answer = answer(try admit("GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(answer == .refusal(.noRoute, route: nil, keepAlive: true))
        #expect(answer?.status == 404)
    }

    @Test func aMissFallsBackToTheListenersDefaultRoute() throws {
        let verdict = try admit("GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n", snapshot: Self.snapshot(defaultRoute: 0))
        guard case .builtin(.status) = verdict else { Issue.record("not the default route: \(verdict)"); return }
    }

    @Test func aDefaultRouteOutsideTheTableIsAMissNotACrash() throws {
        let routes = try Self.snapshot(defaultRoute: 42).routes(forListener: "main")
        #expect(routes.defaultRoute == nil)
    }

    @Test func aMetricsListenerAnswersItsPathAndNothingElse() throws {
        let s = try Self.snapshot(metricsPath: "/metrics")
        guard case .builtin(.metrics) = try admit("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", snapshot: s) else {
            Issue.record("the metrics path is not the metrics builtin"); return
        }
        // Routes are not consulted on a metrics listener: /status is a miss there.
        #expect(answer(try admit("GET /status HTTP/1.1\r\nHost: a\r\n\r\n", snapshot: s))?.status == 404)
    }

    @Test func aRouteWhoseHandlerNamesNoActionIsAMissUnderItsID() throws {
        #expect(answer(try admit("GET /dangling HTTP/1.1\r\nHost: a\r\n\r\n")) == .refusal(.noRoute, route: "dangling", keepAlive: true))
    }

    @Test func aRouteSetBeyondTheSnapshotServesTheMainSet() throws {
        let routes = try Self.snapshot(routeSet: 5).routes(forListener: "main")
        #expect(routes.routeSet == 0 && routes.routes.map(\.id) == ["status", "api", "ws", "gone", "dangling"])
    }

    @Test func anUnknownListenerServesTheMainSetWithoutDefault() throws {
        let routes = try Self.snapshot(defaultRoute: 0).routes(forListener: "other")
        #expect(routes.routeSet == 0 && routes.defaultRoute == nil && routes.metricsPath == nil)
    }

    // MARK: - Admit: path safety

    @Test func dotSegmentsAreRefusedWith400AndClose() throws {
        for path in ["/api/../admin", "/api/%2e%2e/admin", "/api/.%2E/x", "/api/./x", "/api/..%2fadmin"] {
            let answer = answer(try admit("GET \(path) HTTP/1.1\r\nHost: a\r\n\r\n"))
            #expect(answer == .refusal(.unsafePath, route: "api"), "\(path)")
            #expect(answer?.status == 400 && answer?.keepAlive == false)
        }
    }

    @Test func aDotSegmentIsRefusedEvenWhereNoRouteMatches() throws {
        #expect(answer(try admit("GET /x/../y HTTP/1.1\r\nHost: a\r\n\r\n"))?.error?.kind == .unsafePath)
    }

    @Test func dotsInsideNamesPass() throws {
        #expect(plan(try admit("GET /api/v1.2/..x/a..b HTTP/1.1\r\nHost: a\r\n\r\n")) != nil)
    }

    // MARK: - Admit: methods

    @Test func connectIsRefusedWith501AndCloses() throws {
        let answer = answer(try admit("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"))
        #expect(answer == LocalAnswer(status: 501, content: .error, keepAlive: false))
    }

    @Test func traceIsRefusedWith501KeepingTheConnection() throws {
        #expect(answer(try admit("TRACE /api HTTP/1.1\r\nHost: a\r\n\r\n")) == LocalAnswer(status: 501, content: .error, keepAlive: true))
        // Unless the connection is closing anyway.
        #expect(answer(try admit("TRACE /api HTTP/1.1\r\nHost: a\r\n\r\n", keepAlive: false))?.keepAlive == false)
    }

    @Test func optionsWithMaxForwardsZeroIsAnsweredHere() throws {
        let answer = answer(try admit("OPTIONS /api HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n\r\n"))
        #expect(answer == LocalAnswer(status: 200, content: .empty, keepAlive: true))
    }

    @Test func optionsMaxForwardsIsDecremented() throws {
        #expect(plan(try admit("OPTIONS /api HTTP/1.1\r\nHost: a\r\nMax-Forwards: 5\r\n\r\n"))?.maxForwards == 4)
        // Not a number: passes unchanged.
        #expect(plan(try admit("OPTIONS /api HTTP/1.1\r\nHost: a\r\nMax-Forwards: 5x\r\n\r\n"))?.maxForwards == nil)
        // Other methods never touch it.
        #expect(plan(try admit("GET /api HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n\r\n"))?.maxForwards == nil)
    }

    // MARK: - Admit: upgrades

    @Test func webSocketOnAWebSocketRouteIsProxied() throws {
        let verdict = try admit("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n\r\n")
        #expect(plan(verdict)?.plan.route.websocket == true)
    }

    @Test func h2cIsRefusedEvenOnAWebSocketRoute() throws {
        let answer = answer(try admit("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"))
        #expect(answer == .refusal(.upgradeRefused, route: "ws"))
        #expect(answer?.status == 403 && answer?.keepAlive == false)
    }

    @Test func webSocketOnARouteWithoutItIsRefused() throws {
        let answer = answer(try admit("GET /api HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"))
        #expect(answer == .refusal(.upgradeRefused, route: "api"))
    }

    // MARK: - Admit: body limits

    @Test func theRoutesBodyLimitAppliesOverTheSnapshots() throws {
        let s = try Self.snapshot()
        let routes = s.routes(forListener: "main")
        #expect(AdmitPhase.bodyLimit(routes.routes[1], default: s.limits.maxBodyBytes) == 1024)  // api: its own
        #expect(AdmitPhase.bodyLimit(routes.routes[2], default: s.limits.maxBodyBytes) == 4096)  // ws: the snapshot's
        #expect(AdmitPhase.bodyLimit(nil, default: 4096) == 4096)
        #expect(plan(try admit("POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 1024\r\n\r\n")) != nil)
        let over = answer(try admit("POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 1025\r\n\r\n"))
        #expect(over == .refusal(.clientBodyTooLarge, route: "api"))
        #expect(over?.status == 413 && over?.keepAlive == false)
    }

    @Test func aDeclaredBodyOverTheLimitIsRefusedWhateverElseWouldAnswer() throws {
        // The 413 wins over a method answer, an unsafe path, a miss and a builtin.
        for line in ["TRACE /api", "GET /api/../x", "GET /nowhere", "GET /status"] {
            let verdict = try admit("\(line) HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n")
            #expect(answer(verdict)?.error?.kind == .clientBodyTooLarge, "\(line)")
        }
    }

    @Test func aChunkedBodyIsAdmittedAndCountedLater() throws {
        #expect(plan(try admit("POST /api HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")) != nil)
    }

    // MARK: - Filters and agents

    @Test func aRouteWithoutFiltersSharesTheEmptyChain() throws {
        let s = try Self.snapshot()
        let routes = s.routes(forListener: "main")
        for route in routes.routes {
            #expect(route.filters === FilterChain.none)
            #expect(route.filters.isEmpty)
        }
    }

    @Test func aRoutesChainIsResolvedBesideItsPlan() throws {
        var s = try Self.snapshot()
        let edits = HeaderEdits(rename: [], set: [("X-Filter", "1")], add: [], remove: [])
        s.filterChains = [.none, FilterChain(requestEdits: edits, responseEdits: edits)]
        let api = try #require(s.routes(forListener: "main").routes.first { $0.id == "api" })
        #expect(!api.filters.isEmpty)
        #expect(api.filters.request.isEmpty)
        guard case .proxy(let plan)? = api.action else { Issue.record("api is not proxied"); return }
        // The static edits are joined into the plan once, after the route's own policy.
        #expect(plan.requestHeaders == plan.route.requestHeaders.followed(by: edits))
        #expect(plan.responseHeaders == plan.route.responseHeaders.followed(by: edits))
    }

    @Test func aFiltersEditsFollowTheRoutesPolicy() {
        let route = HeaderEdits(rename: [], set: [("X-A", "1")], add: [], remove: ["x-drop"])
        let filter = HeaderEdits(rename: [(from: "x-old", to: "X-New")], set: [("X-B", "2")], add: [("X-C", "3")], remove: [])
        let joined = route.followed(by: filter)
        #expect(joined == HeaderEdits(
            rename: [(from: "x-old", to: "X-New")], set: [("X-A", "1"), ("X-B", "2")], add: [("X-C", "3")], remove: ["x-drop"]))
    }

    @Test func aLocalAnswerOfAFilterCarriesItsBodyAndFields() {
        let answer = LocalAnswer(
            status: 429, content: .json("{\"error\":\"slow down\"}"), fields: [.init(name: "Retry-After", value: "2")], keepAlive: true)
        let response = answer.response(traceID: "t1")
        #expect(response.status == 429 && response.bodyString == "{\"error\":\"slow down\"}")
        #expect(response.header("Retry-After") == "2" && response.header("X-Request-Id") == "t1")
        #expect(response.header("Content-Type") == "application/json")
    }

    @Test func aRefusalAnswersWithTheJSONErrorBody() {
        let response = LocalAnswer.refusal(.noRoute, route: nil).response(traceID: "t2")
        #expect(response.status == 404 && response.bodyString.contains("\"404 Not Found\"") && response.bodyString.contains("\"t2\""))
    }

    // MARK: - Choose upstream

    @Test func aRouteWhoseUpstreamIsMissingIsRefusedWith500() throws {
        guard let admitted = plan(try admit("GET /gone HTTP/1.1\r\nHost: a\r\n\r\n")) else { Issue.record("not admitted"); return }
        #expect(admitted.plan.upstream == nil)
        let request = try Parsed("GET /gone HTTP/1.1\r\nHost: a\r\n\r\n")
        let verdict = request.withHead {
            UpstreamPhase.choose(admitted.plan, head: request.head, $0, routeID: "gone", path: "/gone", clientIP: nil)
        }
        guard case .answer(let answer) = verdict else { Issue.record("chosen: \(verdict)"); return }
        #expect(answer == .refusal(.internal, route: "gone", cause: "the route's upstream is not in the configuration"))
        #expect(answer.status == 500)
    }

    @Test func theHashKeyComesFromTheRequestsBytes() throws {
        guard let admitted = plan(try admit("GET /api HTTP/1.1\r\nHost: a\r\n\r\n")) else { Issue.record("not admitted"); return }
        let request = try Parsed("GET /api HTTP/1.1\r\nHost: a\r\nX-User: alice\r\n\r\n")
        let verdict = request.withHead {
            UpstreamPhase.choose(admitted.plan, head: request.head, $0, routeID: "api", path: "/api", clientIP: [127, 0, 0, 1])
        }
        guard case .proceed(let pick) = verdict else { Issue.record("refused: \(verdict)"); return }
        #expect(pick.hashKey == Array("alice".utf8))
    }

    // MARK: - Resolution and the head's bytes

    @Test func resolutionFollowsEveryChangeOfTheSnapshot() throws {
        var s = try Self.snapshot()
        guard case .proxy(let before)? = s.routes(forListener: "main").routes[2].action else { Issue.record("ws not proxied"); return }
        #expect(before.bodyLimit == 4096 && before.retry == RetryRules.withoutPolicy)
        s.limits.maxBodyBytes = 10
        s.upstreams[1].generation = 9  // as ProxyServer stamps it: new references
        guard case .proxy(let after)? = s.routes(forListener: "main").routes[2].action else { Issue.record("ws not proxied"); return }
        #expect(after.bodyLimit == 10)
        #expect(after.upstream === s.upstreamRefs[1] && after.upstream?.runtime.generation == 9)
    }

    @Test func everyRangeOfAParsedHeadLiesInsideTheHead() throws {
        // HeadBytes checks only the head's length: every range the phases read must lie inside it.
        let heads = [
            "GET /a?b=c HTTP/1.1\r\nHost: h\r\nX-User: u\r\nCookie: a=b\r\n\r\nBODY",
            "OPTIONS * HTTP/1.1\r\nHost: h\r\nMax-Forwards: 3\r\n\r\n",
            "GET http://example.com:8080/p?q HTTP/1.1\r\nHost: example.com:8080\r\n\r\nGET / HTTP/1.1\r\n",
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        ]
        for text in heads {
            let head = try Parsed(text).head
            var ranges = [head.methodRange, head.target, head.path]
            ranges += [head.query, head.authority, head.host, head.upgrade].compactMap { $0 }
            for i in head.fields.indices { ranges += [head.fields[i].nameRange, head.fields[i].valueRange] }
            for r in ranges { #expect(r.lowerBound >= 0 && r.upperBound <= head.headLength, "\(r) in \(text)") }
        }
    }
}
