/// Phase 3, filters and agents: what a route's filters, rate limits and agents say about an
/// admitted request. Empty today (every request proceeds unchanged); the route's resolved
/// filter chain will hang off `ResolvedRoute` and be run here, in order, each step returning
/// the same verdict, the first answer ending the chain.
///
/// An answer needs no socket: a rate limit's 429 or an agent's block is a `LocalAnswer` (status,
/// JSON body, fields). Edits are applied by the head writer after the route's own
/// `request-headers` policy. A step that must wait (an agent's reply) will suspend the driver
/// between this phase and the next; nothing before this phase waits.
enum FilterPhase {
    enum Verdict: Equatable {
        /// Go on, with these edits to the request head on top of the route's policy (nil: none).
        case proceed(requestEdits: HeaderEdits?)
        /// Answer the request instead of going on.
        case answer(LocalAnswer)
    }

    static func decide(_ route: ResolvedRoute, request: RequestFacts) -> Verdict {
        .proceed(requestEdits: nil)
    }
}
