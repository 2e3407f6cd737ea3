/// The response-phase filters of an exchange's route, run on each response head the upstream
/// sends before Sentinel writes it (`ProxyExchange+Response`). Set on an exchange only when its
/// route has such filters: others pay nothing.
struct ResponseHook {
    let chain: FilterChain

    /// The edits of a response head with status `status`: `base` (the route's and the request
    /// phase's), then what the response filters add.
    func policy(status: Int, base: HeaderEdits, context: ResponseContext) -> HeaderEdits {
        var effects = FilterEffects()
        for entry in chain.response { entry.filter.onResponseHead(status: status, context: context, effects: &effects) }
        return effects.responseEdits.map { base.followed(by: $0) } ?? base
    }
}
