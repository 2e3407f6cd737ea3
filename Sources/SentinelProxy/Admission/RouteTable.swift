import SentinelPolicy

/// A route as the request path uses it: its id and what it does, resolved once when the
/// snapshot is built, so a request looks up nothing by index after routing.
struct ResolvedRoute: Sendable {
    enum Action: Sendable {
        case builtin(BuiltinKind)
        case proxy(ProxyPlan)
    }

    let id: String
    /// nil: the route's handler names no action (only a snapshot assembled by hand can say so);
    /// answered like a miss, under the route's id.
    let action: Action?
    /// The route's filters (`FilterChain.none` without any), run in phase 3.
    let filters: FilterChain

    init(id: String, action: Action?, filters: FilterChain = .none) {
        self.id = id
        self.action = action
        self.filters = filters
    }

    /// The edits every response on the route gets, Sentinel's own answers included (nil: none):
    /// a proxied route's `ProxyPlan.responseHeaders`; a builtin route's joined in its chain.
    var responseEdits: HeaderEdits? {
        if case .proxy(let plan) = action { return plan.responseHeaders.isEmpty ? nil : plan.responseHeaders }
        return filters.responseEdits
    }
}

/// A proxied route, resolved: the route's settings, its upstream looked up, its body limit and
/// retry rules settled. One reference per request (the route's value would cost a dozen
/// reference counts to copy).
final class ProxyPlan: Sendable {
    let route: ProxyRoute
    /// `route.upstream`'s settings; nil when the snapshot has no such upstream (the
    /// choose-upstream phase refuses the request with 500).
    let upstream: UpstreamRef?
    /// `route.maxBodyBytes`, or the snapshot's `limits.maxBodyBytes`.
    let bodyLimit: Int
    /// `route.retry`, or the default rules (other targets on connect failures only).
    let retry: RetryRules
    /// The edits of every request sent upstream on the route: `route.requestHeaders`, then the
    /// static edits of its request-phase `headers` filters (joined once, here).
    let requestHeaders: HeaderEdits
    /// The response edits of every response on the route: `route.responseHeaders`, then the
    /// static edits of its response-phase filters (joined once, here).
    let responseHeaders: HeaderEdits
    /// The route's filters, for their response phase (`ResponseHook`).
    let responseFilters: FilterChain
    /// The route's timeouts over its upstream's: the policy's, then its `timeout` filters'.
    let timeouts: RouteTimeouts?

    init(route: ProxyRoute, upstreams: [UpstreamRef], defaultBodyLimit: Int, filters: FilterChain = .none) {
        self.route = route
        upstream = upstreams.indices.contains(route.upstream) ? upstreams[route.upstream] : nil
        bodyLimit = route.maxBodyBytes ?? defaultBodyLimit
        retry = route.retry ?? .withoutPolicy
        responseFilters = filters
        let joined = (route.timeouts ?? RouteTimeouts()).overridden(by: filters.timeouts ?? RouteTimeouts())
        timeouts = joined.isEmpty ? nil : joined
        requestHeaders = filters.requestEdits.map { route.requestHeaders.followed(by: $0) } ?? route.requestHeaders
        responseHeaders = filters.responseEdits.map { route.responseHeaders.followed(by: $0) } ?? route.responseHeaders
    }
}

/// The routes one listener serves, each resolved.
struct ListenerRoutes: Sendable {
    /// Which route set (and which of a loop's route caches): 0 is the snapshot's `router`.
    let routeSet: Int
    let router: Router
    /// `routes[i]` is what `router.routes[i]` does.
    let routes: [ResolvedRoute]
    /// The listener's `default-route`, used when nothing matches; nil: a miss is 404.
    let defaultRoute: ResolvedRoute?
    /// A metrics-only listener: this path, and nothing else, is answered (no route is consulted).
    let metricsPath: String?

    /// The route a metrics-only listener answers its path with.
    static let metricsRoute = ResolvedRoute(id: "_metrics", action: .builtin(.metrics))
}

extension ServerSnapshot {
    /// Resolves every route of every route set, and each listener's view of them (called by
    /// the snapshot itself whenever a field they depend on changes).
    static func resolveRoutes(
        listeners: [Listener], sets: [Router], actions: [RouteAction], filters: [FilterChain], upstreams: [UpstreamRef],
        limits: Limits
    ) -> (sets: [[ResolvedRoute]], listeners: [ListenerRoutes]) {
        let chains = actions.indices.map { filters.indices.contains($0) ? filters[$0] : FilterChain.none }
        let resolvedActions = zip(actions, chains).map { action, chain -> ResolvedRoute.Action in
            switch action {
            case .builtin(let kind): return .builtin(kind)
            case .proxy(let route):
                return .proxy(ProxyPlan(route: route, upstreams: upstreams, defaultBodyLimit: limits.maxBodyBytes, filters: chain))
            }
        }
        let resolvedSets = sets.map { router in
            router.routes.map { spec in
                let known = resolvedActions.indices.contains(spec.handler)
                return ResolvedRoute(
                    id: spec.id, action: known ? resolvedActions[spec.handler] : nil, filters: known ? chains[spec.handler] : .none)
            }
        }
        let perListener = listeners.map { l in
            routes(for: l, sets: sets, resolved: resolvedSets)
        }
        return (resolvedSets, perListener)
    }

    /// `listener`'s routes (`listener` nil: the main route set, no default route).
    static func routes(for listener: Listener?, sets: [Router], resolved: [[ResolvedRoute]]) -> ListenerRoutes {
        // A set number beyond the snapshot's sets serves the main set (as `router(forSet:)`).
        let set = listener.map { $0.routeSet < sets.count ? max(0, $0.routeSet) : 0 } ?? 0
        let routes = resolved[set]
        return ListenerRoutes(
            routeSet: set, router: sets[set], routes: routes,
            defaultRoute: listener?.defaultRoute.flatMap { routes.indices.contains($0) ? routes[$0] : nil },
            metricsPath: listener?.metricsPath)
    }
}
