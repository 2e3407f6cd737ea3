import NIOCore
import SentinelHTTP1
import SentinelPolicy

/// The HTTP/1 driver of the admission phases (`Admission/`): it runs them on a parsed head in
/// their fixed order — route, admit, filters and agents, choose upstream — and performs what
/// they decide: a local answer, a builtin, or an exchange (phase 5, proxy; the response phases
/// are the exchange's).
extension ProxyConnectionHandler {
    /// What the phases decided for one request, with what performing it needs.
    struct Admission {
        enum Step {
            case answer(LocalAnswer)
            /// A builtin route's answer; `edits`: what its filters add to the response (the
            /// X-RateLimit-* fields of an admitted request, a country), after the route's own.
            case builtin(BuiltinKind, edits: HeaderEdits? = nil)
            /// Proxy through `plan`: `head` is the head to send upstream, `pick` what the balancer
            /// uses, `responsePolicy` the edits of the response head.
            case proxy(ProxyPlan, pick: PickContext, head: ByteBuffer, responsePolicy: HeaderEdits, compression: ResponseCompression?)
            /// A filter waits (phase 3): the head stays buffered until its verdict arrives.
            case wait(FilterWait)
        }

        var facts: RequestFacts
        var traceID: String
        var routeID: String?
        var body: BodyCounter
        var step: Step
        /// The route's response edits, for a local answer on it (nil: no route, or none).
        var responseEdits: HeaderEdits? = nil
    }

    /// What phase 2 let through, carried across phase 3 (which may wait).
    enum Admitted {
        case builtin(BuiltinKind)
        case proxy(ProxyPlan, maxForwards: Int?)
    }

    /// A complete, valid head is at the front of `inbound`.
    func startRequest(_ head: RequestHead) {
        // The connection may stay open after this request (the client asks, no drain, under the
        // listener's request limit).
        let keepAlive = machine.headParsed(keepAliveRequested: head.keepAlive)
        beginRequest()
        refreshSnapshot()
        // The clock reading of this read event when it started the request (one read fewer);
        // a pipelined request behind it reads the clock itself.
        let start = firstByteNanos != 0 ? firstByteNanos : shared.clock.monotonicNanos()
        firstByteNanos = 0
        prepareRouteCache(routes.routeSet)
        // Every phase that reads the head's bytes runs in this one scope: the head's ranges
        // are right only until the head is consumed, which happens next and nowhere else.
        let admission = inbound.withUnsafeReadableBytes { admit(head, HeadBytes($0, head: head), keepAlive: keepAlive, start: start) }
        // Kept for the access log only (a copy of the facts per request otherwise).
        currentFacts = snapshot.accessLog != nil ? admission.facts : nil
        if case .wait(let wait) = admission.step {
            // The head stays at the front of `inbound` until the verdict (ProxyConnectionHandler+FilterWait).
            beginFilterWait(wait)
            return
        }
        inbound.moveReaderIndex(forwardBy: head.headLength)
        performAdmission(admission, head: head, start: start, keepAlive: keepAlive)
    }

    /// Performs what the phases decided for a request whose head was consumed.
    func performAdmission(_ admission: Admission, head: RequestHead, start: UInt64, keepAlive: Bool) {
        let request = RequestIdentity(
            method: head.method, methodName: admission.facts.method, routeID: admission.routeID, traceID: admission.traceID,
            startNanos: start)
        switch admission.step {
        case .answer(let answer):
            answerLocally(
                answer.response(traceID: admission.traceID), admission, request, version: head.version, keepAlive: answer.keepAlive,
                error: answer.error)
        case .builtin(let kind, let edits):
            let response = builtinResponse(kind, request: admission.facts, traceID: admission.traceID)
            var admission = admission
            if let edits { admission.responseEdits = admission.responseEdits.map { $0.followed(by: edits) } ?? edits }
            answerLocally(
                response, admission, request, version: head.version, keepAlive: keepAlive,
                instance: wantsInstanceAnswer(kind, response) ? kind : nil)
        case .proxy(let plan, let pick, let headBytes, let responsePolicy, let compression):
            if head.expect100Continue {
                writeAndFlush(host.allocator.buffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n"))
            }
            var body = admission.body
            body.limitIsBody413 = true
            let route = plan.route
            requestVersion = head.version
            let exchange = ProxyExchange(
                downstream: self, pool: pool, shared: shared, settings: exchangeSettings, upstreamIndex: route.upstream,
                upstreams: snapshot.upstreamRefs, headBytes: headBytes, body: body, request: request, clientKeepAlive: keepAlive,
                upgrade: route.websocket && head.upgrade != nil, responsePolicy: responsePolicy, rules: plan.retry,
                pickContext: pick)
            exchange.fallback = route.fallback
            if !plan.responseFilters.response.isEmpty { exchange.responseHook = ResponseHook(chain: plan.responseFilters) }
            exchange.routeTimeouts = plan.timeouts
            exchange.compression = compression
            machine.proxy(exchange)
            exchange.start()
        case .wait:
            preconditionFailure("a waiting request is performed only once its filter's verdict arrived")
        }
    }

    /// Runs phases 1 to 4 on a head whose bytes are `bytes`, and writes the upstream head of a
    /// request they let through.
    private func admit(_ head: RequestHead, _ bytes: HeadBytes, keepAlive: Bool, start: UInt64) -> Admission {
        let request = RequestFacts(
            head, bytes: bytes.raw, routedHeaderNames: routes.router.headerNames, captureLogFields: snapshot.accessLog != nil)
        let traceID =
            request.incomingTraceID
            ?? TraceID.generate(format: snapshot.traceIDFormat, unixSeconds: shared.clock.wallSeconds(), using: &pool.random)
        // The client's address: the peer's, or the one a trusted proxy forwarded.
        currentClientIP = ClientAddress.resolve(peer: clientIP, peerBytes: clientIPBytes, policy: snapshot.forwarding) {
            FilterRequest.values(head, bytes.raw, $0)
        }
        // A listener that redirects to HTTPS answers every request itself, before any route.
        if let redirect = listener?.redirectToHTTPS {
            let body = BodyCounter(framing: head.framing, limit: snapshot.limits.maxBodyBytes, limits: parser.limits)
            return Admission(
                facts: request, traceID: traceID, routeID: nil, body: body,
                step: .answer(redirect.answer(request, hasQuery: head.query != nil, keepAlive: keepAlive)))
        }
        // 1. Route.
        let routed = RoutePhase.route(request, in: routes, cache: &routeCache.value[routes.routeSet])
        if routed.evictions > 0 { shared.metrics.routeCacheEvicted(routed.evictions) }
        let route = routed.route
        let body = BodyCounter(
            framing: head.framing, limit: AdmitPhase.bodyLimit(route, default: snapshot.limits.maxBodyBytes), limits: parser.limits)
        let step = decide(head, bytes, route: route, facts: request, traceID: traceID, body: body, keepAlive: keepAlive, start: start)
        return Admission(facts: request, traceID: traceID, routeID: route?.id, body: body, step: step,
                         responseEdits: route?.responseEdits)
    }

    /// Phases 2 and 3 for a routed request, then what follows them.
    private func decide(
        _ head: RequestHead, _ bytes: HeadBytes, route: ResolvedRoute?, facts: RequestFacts, traceID: String, body: BodyCounter,
        keepAlive: Bool, start: UInt64
    ) -> Admission.Step {
        // 2. Admit.
        let admitted: Admitted
        switch AdmitPhase.decide(head, bytes, route: route, body: body, keepAlive: keepAlive) {
        case .answer(let answer): return .answer(answer)
        case .builtin(let kind): admitted = .builtin(kind)
        case .proxy(let plan, let maxForwards): admitted = .proxy(plan, maxForwards: maxForwards)
        }
        // 3. Filters and agents (for a builtin route's request too).
        guard let route, !route.filters.request.isEmpty else {
            return afterFilters(head, bytes, admitted, effects: nil, request: facts, routeID: route?.id, traceID: traceID)
        }
        var run = FilterRun()
        let ticket = nextFilterTicket()
        let verdict = FilterPhase.decide(
            &run, route.filters, request: filterRequest(head, bytes, facts, traceID: traceID, route: route, ticket: ticket),
            keepAlive: keepAlive, observer: filterEvents(start))
        switch verdict {
        case .answer(let answer): return .answer(answer)
        case .proceed(let effects):
            return afterFilters(head, bytes, admitted, effects: effects, request: facts, routeID: route.id, traceID: traceID)
        case .wait(let pending):
            return .wait(FilterWait(
                ticket: ticket, head: head, keepAlive: keepAlive, start: start, facts: facts, traceID: traceID, body: body, route: route,
                admitted: admitted, run: run, pending: pending))
        }
    }

    /// Phase 3's view of the request.
    func filterRequest(
        _ head: RequestHead, _ bytes: HeadBytes, _ facts: RequestFacts, traceID: String, route: ResolvedRoute, ticket: UInt64
    ) -> FilterRequest {
        FilterRequest(
            head: head, bytes: bytes.raw, facts: facts, clientAddress: currentClientIP, scheme: listener?.tls != nil ? "https" : "http",
            routeID: route.id, traceID: traceID,
            waker: route.filters.mayWait ? FilterWaker(target: filterWakeTarget(), ticket: ticket) : nil, logger: shared.health.logger)
    }

    /// Phase 4 and the head phase 5 sends upstream, for a request the filters let through with
    /// `effects` (nil: the route has no request filters).
    func afterFilters(
        _ head: RequestHead, _ bytes: HeadBytes, _ admitted: Admitted, effects: FilterEffects?, request: RequestFacts, routeID: String?,
        traceID: String
    ) -> Admission.Step {
        let plan: ProxyPlan
        let maxForwards: Int?
        switch admitted {
        case .builtin(let kind): return .builtin(kind, edits: effects?.allResponseEdits)
        case .proxy(let p, let value):
            plan = p
            maxForwards = value
        }
        var policy = plan.requestHeaders
        var responsePolicy = plan.responseHeaders
        if let effects {
            if let edits = effects.requestEdits { policy = policy.followed(by: edits) }
            if let edits = effects.allResponseEdits { responsePolicy = responsePolicy.followed(by: edits) }
        }
        // 4. Choose upstream.
        let pick: PickContext
        switch UpstreamPhase.choose(plan, head: head, bytes, routeID: routeID, path: request.path, clientIP: clientIPBytes) {
        case .answer(let answer): return .answer(answer)
        case .proceed(let context): pick = context
        }
        // 5. Proxy: the head sent upstream, written in place at the writer's bound (no regrowth).
        let edits = HeadWriter.RequestEdits(
            clientIP: clientIP, clientIsIPv6: clientIsIPv6, scheme: listener?.tls != nil ? "https" : "http", traceID: traceID,
            traceparent: request.traceparent.map { .incoming($0) } ?? .new(pool.random.next(), pool.random.next(), pool.random.next()),
            passUpgrade: plan.route.websocket && head.upgrade != nil, dropExpect: head.expect100Continue,
            policy: policy, tls: connectionTLS, via: snapshot.forwarding.viaPseudonym, trustedPeer: snapshot.forwarding.trusts(clientIPBytes),
            localAuthority: head.host == nil && head.authority == nil ? localAuthority() : nil, maxForwards: maxForwards,
            target: effects?.target, host: effects?.host)
        var headBytes = headBuffer(&spareRequestHead, capacity: HeadWriter.requestBound(head, edits: edits))
        HeadWriter.request(head, bytes: bytes.raw, edits: edits, into: &headBytes)
        keepHeadBuffer(headBytes, in: &spareRequestHead)
        // A `compress` route: what the client accepts, read while the head's bytes are here.
        let compression = plan.responseFilters.compression.map { rule in
            ResponseCompression(
                rule: rule, accepted: ResponseCompression.accepted(head, bytes.raw, rule: rule), isHead: head.method == .head)
        }
        return .proxy(plan, pick: pick, head: headBytes, responsePolicy: responsePolicy, compression: compression)
    }

    /// This loop's route caches: one per route set, each of the snapshot's size.
    private func prepareRouteCache(_ set: Int) {
        if routeCache.value.count <= set || routeCache.value[set].capacity != snapshot.routeCacheSize {
            let size = snapshot.routeCacheSize
            routeCache.value = (0...max(set, snapshot.routeSets.count)).map { _ in RouteCache(capacity: size) }
        }
    }

    /// Answers the request locally once its body is read (and discarded, bounded).
    private func answerLocally(
        _ response: BuiltinResponse, _ admission: Admission, _ request: RequestIdentity, version: HTTP1Version, keepAlive: Bool,
        instance: BuiltinKind? = nil, error: ProxyError? = nil
    ) {
        var reply = LocalReply(
            response: response, body: admission.body, keepAlive: keepAlive, request: request, facts: admission.facts,
            version: version, instanceKind: instance, error: error, responseEdits: admission.responseEdits)
        // A declared body over the limit is never read: the admit phase made the answer its 413.
        if reply.body.declaredTooLarge {
            reply.keepAlive = false
            finishLocal(reply)
            return
        }
        // A body is read and discarded (bounded); a large declared one is not worth reading.
        if let n = reply.body.declaredLength, n > 64 * 1024 { reply.keepAlive = false; reply.body = BodyCounter.empty }
        // The body must arrive within the request timeout, and at the listener's minimum
        // rate: no exchange watches this phase, and a trickled body would otherwise hold the
        // connection forever.
        if reply.body.isComplete {
            _ = machine.discardBody(reply, bodyComplete: true, now: 0)
        } else {
            let now = shared.clock.monotonicNanos()
            perform(machine.discardBody(reply, bodyComplete: false, now: now), now: now)
        }
    }
}
