import SentinelConfig
import SentinelProxy

/// Compiles a route's `filters "a" "b"` into the data plane's `FilterChain`, once per snapshot:
/// each id looked up from the route's scope (service → namespace → exported → global, or a
/// qualified `ns:id`), each filter turned into its runtime form, in the route's order and by
/// phase. Static header edits are joined here so a request pays nothing for them.
enum FilterChainBuilder {
    static func chain(_ route: RouteConfig, scope: SnapshotBuilder.Scope) throws(SnapshotBuilder.Failure) -> FilterChain {
        guard !route.filters.isEmpty else { return .none }
        var requestEdits = HeaderEdits()
        var responseEdits = HeaderEdits()
        for id in route.filters {
            guard let filter = scope.filter(id) else {
                throw SnapshotBuilder.Failure(description: "route \"\(route.id)\": filter \"\(id)\" is not defined")
            }
            switch filter.kind {
            case .headers(let h):
                let edits = SnapshotBuilder.edits(h.modifications)
                if h.phase != .response { requestEdits = requestEdits.followed(by: edits) }
                if h.phase != .request { responseEdits = responseEdits.followed(by: edits) }
            default:
                throw SnapshotBuilder.Failure(
                    description: "route \"\(route.id)\": filter \"\(id)\" of type \(filter.kind.typeName.rawValue) is not supported yet")
            }
        }
        return FilterChain(requestEdits: requestEdits, responseEdits: responseEdits)
    }
}
