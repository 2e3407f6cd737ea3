import SentinelConfig
import SentinelProxy
import SentinelRateLimit

/// Compiles a route's `filters "a" "b"` into the data plane's `FilterChain`, once per snapshot:
/// each id looked up from the route's scope (service → namespace → exported → global, or a
/// qualified `ns:id`), each filter turned into its runtime form, in the route's order and by
/// phase. Static header edits are joined here so a request pays nothing for them.
enum FilterChainBuilder {
    static func chain(_ route: RouteConfig, scope: SnapshotBuilder.Scope, rateLimits: RateLimitSet = RateLimitSet(),
                      events: RateLimitEvents = RateLimitEvents()) throws(SnapshotBuilder.Failure) -> FilterChain {
        // The global limiter stands in front of every route's own filters.
        var request: [FilterChain.Entry] = rateLimits.global.map { [.rateLimit(id: "global", limiter: $0, events: events)] } ?? []
        guard !route.filters.isEmpty || !request.isEmpty else { return .none }
        var requestEdits = HeaderEdits()
        var responseEdits = HeaderEdits()
        for id in route.filters {
            guard let filter = scope.filter(id) else {
                throw SnapshotBuilder.Failure(description: "route \"\(route.id)\": filter \"\(id)\" is not defined")
            }
            switch filter.kind {
            case .rateLimit(let c):
                guard let limiter = rateLimits.filters[filter.location] else {
                    throw SnapshotBuilder.Failure(description: "route \"\(route.id)\": filter \"\(id)\" has no limiter")
                }
                if case .redis = c.backend {
                    guard let redis = rateLimits.redis[filter.location] else {
                        throw SnapshotBuilder.Failure(description: "route \"\(route.id)\": filter \"\(id)\" has no Redis limiter")
                    }
                    request.append(.rateLimit(id: limiter.rule.scope, redis: redis, events: events))
                } else {
                    request.append(.rateLimit(id: limiter.rule.scope, limiter: limiter, events: events))
                }
            case .headers(let h):
                let edits = SnapshotBuilder.edits(h.modifications)
                if h.phase != .response { requestEdits = requestEdits.followed(by: edits) }
                if h.phase != .request { responseEdits = responseEdits.followed(by: edits) }
            default:
                throw SnapshotBuilder.Failure(
                    description: "route \"\(route.id)\": filter \"\(id)\" of type \(filter.kind.typeName.rawValue) is not supported yet")
            }
        }
        return FilterChain(request: request, requestEdits: requestEdits, responseEdits: responseEdits)
    }
}
