import SentinelHTTP1
import SentinelPolicy

/// Phase 4, choose upstream: which upstream serves a proxied request, and what its balancer
/// needs from the request (hash key, sticky cookie). The target itself is picked by the
/// exchange (phase 5, proxy), which owns retries and fallbacks. Pure.
enum UpstreamPhase {
    enum Verdict {
        case answer(LocalAnswer)
        /// Go on to `plan.upstream`, whose balancer picks with `pick`.
        case proceed(pick: PickContext)
    }

    static func choose(
        _ plan: ProxyPlan, head: RequestHead, _ bytes: HeadBytes, routeID: String?, path: String, clientIP: [UInt8]?
    ) -> Verdict {
        guard let upstream = plan.upstream else {
            return .answer(.refusal(.internal, route: routeID, cause: "the route's upstream is not in the configuration"))
        }
        let p = bytes.raw
        let pick = TargetSelector.context(
            for: upstream, clientIP: clientIP,
            header: { name in RequestFacts.value(of: name, in: head, bytes: p) },
            cookie: { name in RequestFacts.cookie(name, in: head, bytes: p) },
            path: path, random: 0, now: .zero)
        return .proceed(pick: pick)
    }
}
