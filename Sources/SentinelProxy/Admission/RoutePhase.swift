import SentinelPolicy

/// Phase 1, route: which route serves the request. Pure but for the loop's route cache, which
/// it is handed.
enum RoutePhase {
    struct Routed {
        /// nil: nothing serves the request (the admit phase answers 404).
        var route: ResolvedRoute?
        /// Cache entries this lookup evicted (for the eviction counter).
        var evictions: Int
    }

    /// The route of `request` on a listener serving `routes`: a metrics-only listener's path,
    /// else the first match (through `cache`), else the listener's default route.
    static func route(_ request: RequestFacts, in routes: ListenerRoutes, cache: inout RouteCache) -> Routed {
        if let metricsPath = routes.metricsPath {
            return Routed(route: request.path == metricsPath ? ListenerRoutes.metricsRoute : nil, evictions: 0)
        }
        // The header lookup captures only the routed header values, and only when some route
        // tests headers: capturing the facts would copy them into a heap context per request.
        let routed = request.routedHeaders
        let routeRequest = RouteRequest(
            method: request.method, host: request.host, path: request.path, query: request.query,
            headerValues: routed.isEmpty
                ? { _ in [] }
                : { name in routed.filter { $0.name == name }.map(\.value) })
        let evictionsBefore = cache.evictions
        let index = cache.matchIndex(routeRequest, router: routes.router)
        let evictions = cache.evictions - evictionsBefore
        guard let index else { return Routed(route: routes.defaultRoute, evictions: evictions) }
        return Routed(route: routes.routes.indices.contains(index) ? routes.routes[index] : nil, evictions: evictions)
    }
}
