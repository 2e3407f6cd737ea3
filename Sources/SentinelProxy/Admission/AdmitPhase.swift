import SentinelHTTP1

/// Phase 2, admit: whether Sentinel takes the request at all, from the head and the route
/// alone: body limit, method, path safety, a route at all, upgrade policy. Pure.
enum AdmitPhase {
    enum Verdict {
        /// Sentinel answers itself (a refusal, or a method answered before any route).
        case answer(LocalAnswer)
        /// A builtin route answers.
        case builtin(BuiltinKind)
        /// Proxy it through `plan`, with `Max-Forwards` decremented to `maxForwards` (nil: as sent).
        case proxy(ProxyPlan, maxForwards: Int?)
    }

    /// The body limit of a request on `route`: the route's, or the snapshot's `limits.maxBodyBytes`.
    static func bodyLimit(_ route: ResolvedRoute?, default limit: Int) -> Int {
        if case .proxy(let plan)? = route?.action { return plan.bodyLimit }
        return limit
    }

    /// The verdict on a request with head `head` routed to `route`, whose body is `body`.
    /// `keepAlive`: the connection may carry another request (the client's, the listener's and
    /// the process's say combined); refusals that leave framing in doubt close it regardless.
    static func decide(_ head: RequestHead, _ bytes: HeadBytes, route: ResolvedRoute?, body: BodyCounter, keepAlive: Bool) -> Verdict {
        let routeID = route?.id
        // A declared body over the limit is refused whatever else would be answered: reading it
        // would cost more than refusing it.
        if body.declaredTooLarge { return .answer(.refusal(.clientBodyTooLarge, route: routeID)) }
        let maxForwards: Int?
        switch method(head, bytes, keepAlive: keepAlive) {
        case .answer(let answer): return .answer(answer)
        case .forward(let value): maxForwards = value
        }
        if PathSafety.hasDotSegment(bytes.raw, head.path) {
            // Routing sees the path as written; an upstream that resolves "/api/../admin" would
            // serve a path no route allowed. Refused instead of guessed.
            return .answer(.refusal(.unsafePath, route: routeID))
        }
        guard let action = route?.action else { return .answer(.refusal(.noRoute, route: routeID, keepAlive: keepAlive)) }
        switch action {
        case .builtin(let kind):
            return .builtin(kind)
        case .proxy(let plan):
            if let upgrade = head.upgrade {
                // Only WebSocket is ever tunnelled, and only on a route that allows it. Any other
                // protocol (h2c above all: a tunnel to the upstream's HTTP/2 would bypass routing
                // and every policy for the requests inside it) is refused like a route without it.
                if !plan.route.websocket || !HeaderBytes.equals(bytes.raw, upgrade, "websocket") {
                    return .answer(.refusal(.upgradeRefused, route: routeID))
                }
            }
            return .proxy(plan, maxForwards: maxForwards)
        }
    }

    enum MethodVerdict: Equatable {
        /// Route and forward it (with this decremented `Max-Forwards`, if any).
        case forward(maxForwards: Int?)
        /// Sentinel answers itself, whatever the route.
        case answer(LocalAnswer)
    }

    /// What the method alone decides, whatever the route.
    static func method(_ head: RequestHead, _ bytes: HeadBytes, keepAlive: Bool) -> MethodVerdict {
        switch head.method {
        case .connect, .trace:
            // A reverse proxy opens no tunnels to arbitrary authorities, and reflects no
            // requests (TRACE would echo credentials and the fields Sentinel adds): both methods
            // are refused for every resource (RFC 9110 §15.6.2), before routing could mistake
            // them for a missing page. After CONNECT the connection closes (a client may already
            // be sending tunnel bytes).
            return .answer(LocalAnswer(status: 501, content: .error, keepAlive: keepAlive && head.method == .trace))
        case .options:
            // RFC 9110 §7.6.2: an intermediary answers an OPTIONS request whose Max-Forwards is
            // 0 itself, and decrements it otherwise.
            guard let value = maxForwards(head, bytes) else { return .forward(maxForwards: nil) }
            if value == 0 { return .answer(LocalAnswer(status: 200, content: .empty, keepAlive: keepAlive)) }
            return .forward(maxForwards: value - 1)
        default:
            return .forward(maxForwards: nil)
        }
    }

    /// The value of a request's `Max-Forwards` (the first field; nil when absent or not a
    /// decimal number, which then passes unchanged).
    static func maxForwards(_ head: RequestHead, _ bytes: HeadBytes) -> Int? {
        let p = bytes.raw
        for i in head.fields.indices where HeaderBytes.equals(p, head.fields[i].nameRange, "max-forwards") {
            let r = head.fields[i].valueRange
            guard !r.isEmpty, r.count <= 9, r.allSatisfy({ p[$0] >= 0x30 && p[$0] <= 0x39 }) else { return nil }
            return r.reduce(0) { $0 * 10 + Int(p[$1] - 0x30) }
        }
        return nil
    }
}
