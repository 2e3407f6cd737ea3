/// Phase 3, filters and agents: what a route's filters say about an admitted request. The route's
/// chain (`ResolvedRoute.filters`, resolved when the snapshot is built) runs in order; the first
/// answer ends it; a filter that must wait (an agent's reply, a Redis round trip) suspends the
/// request between this phase and the next until its verdict arrives (`FilterRun`).
///
/// An answer needs no socket: a rate limit's 429, a redirect, an agent's block is a `LocalAnswer`.
/// Edits are applied by the head writer after the route's own `request-headers` policy.
enum FilterPhase {
    enum Verdict {
        /// Go on, with what the filters decided (edits, overrides).
        case proceed(FilterEffects)
        /// Answer the request instead of going on.
        case answer(LocalAnswer)
        /// A filter waits: keep the head, stop reading, and call `resume` with its verdict.
        case wait(any PendingFilter)
    }

    /// Runs `chain` (from where `run` is) on `request`. `keepAlive`: whether the connection may
    /// carry another request; an answer keeps it only then.
    static func decide<O: FilterObserver>(
        _ run: inout FilterRun, _ chain: FilterChain, request: borrowing FilterRequest, keepAlive: Bool, observer: O
    ) -> Verdict {
        verdict(run.run(chain, request, observer: observer), run, keepAlive: keepAlive)
    }

    /// A waiting filter's verdict arrived: go on from it.
    static func resume<O: FilterObserver>(
        _ run: inout FilterRun, _ chain: FilterChain, with verdict: FilterVerdict, request: borrowing FilterRequest,
        keepAlive: Bool, observer: O
    ) -> Verdict {
        self.verdict(run.resume(chain, with: verdict, request, observer: observer), run, keepAlive: keepAlive)
    }

    private static func verdict(_ step: FilterRun.Step, _ run: FilterRun, keepAlive: Bool) -> Verdict {
        switch step {
        case .proceed: return .proceed(run.effects)
        case .answer(var answer):
            answer.keepAlive = answer.keepAlive && keepAlive
            return .answer(answer)
        case .wait(let pending): return .wait(pending)
        }
    }
}
