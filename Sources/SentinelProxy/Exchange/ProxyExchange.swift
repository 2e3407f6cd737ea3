import NIOCore
import SentinelHTTP1
import SentinelPolicy

/// One proxied request/response exchange between a client connection and an upstream target.
///
/// It owns the upstream connection for the exchange's duration and moves bytes both ways with
/// backpressure: client bytes are read only while the upstream is writable, upstream bytes only
/// while the client is writable. Both directions are validated as they pass (request body
/// framing, response head and body framing), so what reaches either side is never framed
/// differently from what Sentinel understood. Errors before any response byte was sent become
/// one JSON error response; after that, the client side is reset.
///
/// The client side is reached only through `downstream` (see `Downstream`): the exchange knows
/// nothing of the client's protocol. The upstream side is an HTTP/1 connection from `pool`.
final class ProxyExchange: UpstreamConnectionDelegate {
    /// The client side; it owns this exchange.
    unowned let downstream: any Downstream
    /// The loop's upstream pool and the server state, held directly (each is used dozens of
    /// times per request).
    let pool: UpstreamPool
    let shared: ServerShared
    var upstreamIndex: Int
    /// The snapshot's upstreams, each behind a reference: `upstream` is the current one, borrowed
    /// in place (an element of `[UpstreamRuntime]` would be copied on every read).
    let upstreams: [UpstreamRef]
    var upstream: UpstreamRuntime {
        _read { yield upstreams[upstreamIndex].runtime }
    }
    /// Cross-upstream failover (`fallback { … }`): the route's plan and what was used.
    var fallback: FallbackPlan?
    var fallbacksUsed = 0
    var originalUpstream: String?
    var fallbackReason: String?
    let headBytes: ByteBuffer
    var body: BodyCounter
    /// The request's identity (method, route, trace id, start), named by every record of it.
    let request: RequestIdentity
    var method: HTTP1Method { request.method }
    var methodName: String { request.methodName }
    var routeID: String? { request.routeID }
    var traceID: String { request.traceID }
    var startNanos: UInt64 { request.startNanos }
    /// The client would keep its connection after this exchange (the downstream has the last word).
    let clientKeepAlive: Bool
    let upgrade: Bool
    let responsePolicy: HeaderEdits
    /// The route's response-phase filters, when it has any (`Filters/ResponseHook.swift`).
    var responseHook: ResponseHook?
    /// The route's `compress` filter with what the client accepts (`Filters/CompressionExchange.swift`);
    /// nil: the route compresses nothing.
    var compression: ResponseCompression?
    /// The response body being compressed (set when the head went out compressed).
    var compressor: BodyCompressor?
    /// The route's own timeouts over the upstream's (policies, `timeout` filters); nil: none.
    var routeTimeouts: RouteTimeouts?
    /// The pseudonym of Sentinel's `Via` element on the response (nil: none).
    let via: [UInt8]?

    var connection: UpstreamConnection?
    /// Where the exchange is in its life (picking → connecting → sending → awaiting head →
    /// streaming → tunnel → done): the one record of what happened, so "finished once", "one
    /// report per pick" and "no response byte sent yet" are answered by its stage, not by flags
    /// kept in step by hand. A few bytes, updated in place.
    var lifecycle: ExchangeLifecycle
    /// The exchange's timeouts (read, write, whole request, stalled client, body rate).
    var clock: ExchangeClock
    /// Attempts made (connections tried, including a stale connection's replay).
    var attempt = 0
    /// Retry bookkeeping: attempts made and targets tried (a retry always prefers another one).
    var retry = RetryState()
    let rules: RetryRules
    var pickContext: PickContext
    var pickStartNanos: UInt64 = 0
    /// `Set-Cookie` value for sticky sessions, when the balancer assigned a new target.
    var stickySetCookie: String?
    var targetIndex = 0
    var requestBytesSent = 0

    /// Parses the upstream's response heads; its `limits` also bound the response's chunk framing.
    var responseParser: HTTP1ResponseHeadParser
    var responseBuffer = ByteBuffer()
    /// The facts of the response head (valid once `haveResponseHead`).
    var responseFraming: ResponseFraming = .none
    var responseRemaining: UInt64 = 0
    var responseChunked: ChunkedDecoder?
    var status = 0
    /// The response is chunked and the client speaks HTTP/1.0: its chunks go out decoded. A fact
    /// of the response's encoding (like `responseFraming`), not of the life cycle.
    var dechunk = false
    /// Response body bytes sent to the client (for the access log).
    var responseBodyBytes = 0

    // Read-only views of the life cycle, for the many places that ask.
    var requestComplete: Bool { lifecycle.requestComplete }
    var haveResponseHead: Bool { lifecycle.haveResponseHead }
    var responseStarted: Bool { lifecycle.responseStarted }
    var responseComplete: Bool { lifecycle.responseComplete }
    /// The upstream connection may go back to the pool at the end (once false, it stays false).
    var upstreamReusable: Bool {
        get { lifecycle.upstreamReusable }
        set { lifecycle.upstreamReusable = newValue }
    }

    /// The minimum request body rate (the listener's `body-min-rate`): nanoseconds the client
    /// may take per body byte (0: no minimum), after `bodyGraceNanos` (see `ExchangeClock`).
    let bodyNanosPerByte: UInt64
    let bodyGraceNanos: UInt64
    /// How long the client may stop reading the response (the listener's request timeout).
    let clientStallNanos: UInt64

    /// Holds the tunnel's upstream delegate (connections keep delegates weakly).
    var relay: TunnelRelay?
    /// The current attempt's per-target metrics (ProxyExchange+Metrics).
    var attemptMetrics = AttemptMetrics()

    init(
        downstream: any Downstream, pool: UpstreamPool, shared: ServerShared, settings: ExchangeSettings, upstreamIndex: Int,
        upstreams: [UpstreamRef], headBytes: ByteBuffer, body: BodyCounter, request: RequestIdentity, clientKeepAlive: Bool,
        upgrade: Bool,
        responsePolicy: HeaderEdits = .init(), rules: RetryRules = .withoutPolicy, pickContext: PickContext = PickContext(random: 0)
    ) {
        self.responsePolicy = responsePolicy
        self.rules = rules
        self.pickContext = pickContext
        self.downstream = downstream
        self.pool = pool
        self.shared = shared
        self.upstreamIndex = upstreamIndex
        self.upstreams = upstreams
        self.headBytes = headBytes
        self.body = body
        self.request = request
        self.clientKeepAlive = clientKeepAlive
        self.upgrade = upgrade
        responseParser = HTTP1ResponseHeadParser(limits: settings.responseLimits)
        via = settings.via
        bodyNanosPerByte = settings.bodyNanosPerByte
        bodyGraceNanos = settings.bodyGraceNanos
        clientStallNanos = UInt64(max(0, settings.clientStallTimeout.nanoseconds))
        lifecycle = ExchangeLifecycle(requestComplete: body.isComplete)
        clock = ExchangeClock(start: request.startNanos)
    }

    var upstreamWritable: Bool { connection?.isWritable ?? false }

    var requestIsComplete: Bool { requestComplete }

    /// The client side should read more: the body is not complete and the upstream can take it.
    var wantsRequestBytes: Bool {
        !requestComplete && connection != nil && upstreamWritable
    }

    // MARK: - Connecting

    var nowDuration: Duration { .nanoseconds(Int64(clamping: shared.clock.monotonicNanos())) }

    func start() {
        // The request's start time serves as "now" for the first pick (one clock read fewer).
        let now = Duration.nanoseconds(Int64(clamping: startNanos))
        pool.recordRequest(upstream: upstreamIndex, now: now)
        pickAndConnect(nowNanos: startNanos)
    }

    /// Asks the balancer for an eligible target (healthy, breaker closed), preferring one not
    /// tried yet, and connects to it. No eligible target: 503 at once, no connect attempt.
    func pickAndConnect(nowNanos: UInt64? = nil) {
        let nanos = nowNanos ?? shared.clock.monotonicNanos()
        let now = Duration.nanoseconds(Int64(clamping: nanos))
        var context = pickContext
        context.random = pool.random.next()
        context.now = now
        guard let pick = pool.selector.pick(upstreams[upstreamIndex], index: upstreamIndex, context: context, avoiding: retry.tried, now: now)
        else {
            if fallback?.onHealthFailure == true, switchToFallback(reason: "health") { return }
            fail(ProxyError(.noHealthyTarget, upstream: upstream.id, route: routeID))
            return
        }
        targetIndex = pick.target
        if let value = pick.setCookie, let cookie = upstream.resilience.stickyCookie {
            stickySetCookie = cookie.setCookieValue(value)
        }
        lifecycle.picked()
        pickStartNanos = nanos
        retry.started(target: targetIndex)
        connect(fresh: false)
    }

    /// Reports the outcome of the current pick to the balancer and health state, once.
    func report(_ outcome: UpstreamHealth.Outcome?, now: UInt64? = nil) {
        guard lifecycle.takePickReport() else { return }
        if case .failure(let kind)? = outcome { countResponseError(kind) }
        if let outcome {
            let nanos = now ?? shared.clock.monotonicNanos()
            let latency = Duration.nanoseconds(Int64(clamping: nanos &- pickStartNanos))
            pool.selector.finished(
                upstreams[upstreamIndex], index: upstreamIndex, target: targetIndex, outcome: outcome, latency: latency,
                now: .nanoseconds(Int64(clamping: nanos)))
        } else {
            pool.selector.cancelled(upstreams[upstreamIndex], index: upstreamIndex, target: targetIndex)
        }
    }

    /// An attempt failed before any response byte reached the client: retry on another target
    /// when the error is retryable and the rules, the retry budget and the request's state allow
    /// it, else fail the exchange with `error`.
    func attemptFailed(_ error: ProxyError) {
        report(error.healthFailure.map { .failure($0) })
        if let failure = error.retryFailure {
            if retried(after: failure) { return }
            if failure.requestNeverSent, fallback?.onConnectionError == true, requestBytesSent == 0, !responseStarted,
                switchToFallback(reason: "connection_error")
            {
                return
            }
        }
        fail(error)
    }

    /// Moves the exchange to the route's next fallback upstream (the request was never sent, or
    /// its body is still unread). Returns false when no fallback is left.
    func switchToFallback(reason: String) -> Bool {
        guard let plan = fallback, fallbacksUsed < min(plan.upstreams.count, plan.maxAttempts) else { return false }
        let next = plan.upstreams[fallbacksUsed]
        fallbacksUsed += 1
        guard upstreams.indices.contains(next) else { return false }
        if originalUpstream == nil { originalUpstream = upstream.id }
        fallbackReason = reason
        lifecycle.retry()
        resetForRetry()
        upstreamIndex = next
        retry = RetryState()
        shared.metrics.upstreamRetry(upstream: upstream.id)
        pool.recordRequest(upstream: upstreamIndex, now: nowDuration)
        pickAndConnect()
        return true
    }

    /// The fallback response fields (`X-Fallback-Used`, …), when a fallback served the request.
    var fallbackFields: [(String, String)] {
        guard let original = originalUpstream else { return [] }
        return [
            ("X-Fallback-Used", "true"), ("X-Fallback-Upstream", upstream.id),
            ("X-Fallback-Reason", fallbackReason ?? "unknown"), ("X-Original-Upstream", original),
        ]
    }

    /// Starts another attempt when the rules, the retry budget and the request's state allow it.
    /// The request can be replayed only while its body is still unread in the client buffer.
    func retried(after failure: UpstreamFailure) -> Bool {
        guard !responseStarted, requestBytesSent == 0 else { return false }
        let decision = pool.withBudget(upstream: upstreamIndex) { budget in
            retry.failed(
                method: methodName, bodySent: false, failure: failure, rules: rules, budget: &budget, now: nowDuration,
                using: &pool.random)
        }
        guard case .retry(let after, _) = decision else { return false }
        lifecycle.retry()
        resetForRetry()
        shared.metrics.upstreamRetry(upstream: upstream.id)
        if after <= .zero {
            pickAndConnect()
        } else {
            retryTask = pool.transport.schedule(after: after) { [self] in
                retryTask = nil
                if !lifecycle.isDone { pickAndConnect() }
            }
        }
        return true
    }

    var retryTask: (any UpstreamTimer)?

    /// Drops the failed attempt's connection and response state (the request head is kept; the
    /// caller moved the life cycle back to picking, or to connecting for a stale replay).
    func resetForRetry() {
        disarmTimer()
        clock.attemptEnded()
        endAttemptMetrics()
        closeUpstream()
        responseParser.reset()
        responseBuffer.clear()
        status = 0
    }

    func connect(fresh: Bool) {
        attempt += 1
        let key = UpstreamPool.Key(upstream: upstreamIndex, target: targetIndex)
        let address = upstream.addresses[targetIndex]
        let site = downstream.upstreamSite
        if !fresh, let idle = pool.takeIdle(
            key, limits: attemptLimits, now: pickStartNanos, tls: upstream.tls?.context, address: address,
            generation: upstream.generation, site: site)
        {
            // The common case, without the callback (and its allocation) of `acquire`.
            connected(idle, reused: true, now: pickStartNanos)
            return
        }
        pool.acquire(
            key, address: address, generation: upstream.generation, limits: attemptLimits, tls: upstream.tls, fresh: true,
            now: pickStartNanos, site: site
        ) { [self] result in
            guard !lifecycle.isDone else {
                if case .success(let acquired) = result { pool.release(acquired.connection, reusable: true, limits: upstream.poolLimits) }
                return
            }
            switch result {
            case .failure(let error):
                switch error {
                case .poolExhausted:
                    attemptFailed(upstreamError(.connectionLimit))
                case .connectTimeout:
                    countConnectError(.timeout)
                    attemptFailed(upstreamError(.connectTimeout, deadline: routeTimeouts?.connect ?? upstream.connectTimeout))
                case .connectFailed(let error):
                    let reason = ConnectErrorReason.classify(error)
                    countConnectError(reason)
                    attemptFailed(upstreamError(.connectFailed, cause: reason.label))
                case .tlsHandshake(let error):
                    countConnectError(.tls)
                    attemptFailed(upstreamError(.tlsHandshakeFailed, cause: error.summary))
                }
            case .success(let acquired):
                connected(acquired.connection, reused: acquired.reused)
            }
        }
    }

    /// `now`: the caller's clock reading when it has one from the same event (a pooled
    /// connection taken at pick time).
    func connected(_ connection: UpstreamConnection, reused: Bool, now: UInt64? = nil) {
        self.connection = connection
        lifecycle.connected(reused: reused)
        connection.delegate = self
        connection.setAutoRead(downstream.isWritable)
        let now = now ?? shared.clock.monotonicNanos()
        clock.connected(now: now, requestComplete: requestComplete, upstreamWritable: connection.isWritable, limits: clockLimits)
        attemptMetrics.begin(sentAt: now, connected: !reused)
        armTimer(now: now)
        if requestComplete {
            // No body: one trip through the pipeline.
            connection.writeAndFlush(headBytes)
        } else {
            connection.write(headBytes)
            if !forwardRequestBody() { connection.flush() }
        }
        downstream.resumeReading()
    }

    // MARK: - Request body

    /// Moves buffered client body bytes to the upstream, as far as framing and backpressure allow.
    /// Returns whether it wrote (and flushed) anything.
    @discardableResult
    func forwardRequestBody() -> Bool {
        guard let connection, !requestComplete else { return false }
        var wrote = false
        while !requestComplete, downstream.requestBytes.readableBytes > 0, connection.isWritable {
            guard let n = body.take(&downstream.requestBytes) else {
                requestBodyRejected()
                return wrote
            }
            if n > 0 {
                let slice = downstream.requestBytes.readSlice(length: n)!
                connection.write(slice)
                requestBytesSent += n
                wrote = true
            }
            if body.isComplete { lifecycle.requestCompleted() }
            if n == 0 && !requestComplete { break }
        }
        if wrote {
            connection.flush()
            // The upstream cannot be expected to answer before it has the whole request: the
            // read timeout counts from the last byte sent, so a slow upload is not cut off as
            // upstream silence.
            clock.lastUpstreamActivity = shared.clock.monotonicNanos()
        }
        if requestComplete { maybeFinish() }
        return wrote
    }

    /// The client's body was malformed or over the limit.
    func requestBodyRejected() {
        upstreamReusable = false
        fail(clientError(body.failed && body.seen > UInt64(body.limit) ? .clientBodyTooLarge : .clientBodyMalformed))
    }

    // MARK: - Upstream events

    func upstreamRead(_ buffer: ByteBuffer) {
        let now = shared.clock.monotonicNanos()
        clock.lastUpstreamActivity = now
        attemptMetrics.received(buffer.readableBytes, at: now)
        var buffer = buffer
        if responseBuffer.readableBytes == 0 {
            responseBuffer = buffer
        } else {
            responseBuffer.writeBuffer(&buffer)
        }
        processResponse()
    }

    func upstreamReadComplete() {
        downstream.flush()
    }

    func upstreamWritabilityChanged(_ writable: Bool) {
        if writable || (clock.bodyClockStart != 0 && !requestComplete) {
            // Time the upstream spends not accepting the body is not the client's.
            let now = shared.clock.monotonicNanos()
            if clock.upstreamWritabilityChanged(writable, requestComplete: requestComplete, now: now) { armTimer(now: now) }
        }
        if writable {
            if lifecycle.isTunnel { forwardTunnelBytes() } else { forwardRequestBody() }
            downstream.resumeReading()
        }
    }

    func upstreamClosed() {
        let cause = connection?.failureCause
        connection = nil
        guard !lifecycle.isDone else { return }
        if lifecycle.isTunnel {
            finishTunnel()
            return
        }
        if !haveResponseHead {
            // Closed before any response: a stale keep-alive connection. Replay once on a fresh
            // connection when nothing is lost by doing so.
            if lifecycle.replayStale(requestBytesSent: requestBytesSent) {
                // An idle keep-alive connection the upstream had already closed: the same target
                // on a fresh connection, not counted as a failure of the target.
                resetForRetry()
                connect(fresh: true)
                return
            }
            attemptFailed(upstreamError(.closedBeforeResponse, cause: cause))
            return
        }
        if responseFraming == .untilClose {
            // The close is the end of this body.
            flushResponseBuffer()
            if compressor != nil { endCompressedBody() }
            lifecycle.responseCompleted()
            upstreamReusable = false
            maybeFinish()
            return
        }
        // Mid-body: the client can no longer get a whole response.
        fail(upstreamError(.closedMidResponse))
    }

    func clientWritabilityChanged(_ writable: Bool) {
        connection?.setAutoRead(writable)
        if writable, lifecycle.isTunnel { downstream.resumeReading() }
    }

    func clientClosed() {
        fail(clientError(.clientClosed))
    }

    /// The client connection closes after this exchange's response.
    var willCloseClient: Bool {
        get { lifecycle.closesClient }
        set { lifecycle.closesClient = newValue }
    }

}

@available(*, unavailable)
extension ProxyExchange: Sendable {}

extension RetryRules {
    /// Without a `retry-policy`: a request that never reached an upstream (connect refused or
    /// timed out, pool full, stale keep-alive) is tried on other targets, up to 3 attempts in all,
    /// at once; nothing is ever replayed after its bytes were sent, and no status is retried.
    static let withoutPolicy = RetryRules(
        maxAttempts: 3, backoffBase: .zero, backoffMax: .zero, retryableStatuses: [], retryReadTimeouts: false)
}

/// Upstream events while tunnelling: plain byte relay.
final class TunnelRelay: UpstreamConnectionDelegate {
    unowned let exchange: ProxyExchange

    init(exchange: ProxyExchange) { self.exchange = exchange }

    func upstreamRead(_ buffer: ByteBuffer) { exchange.tunnelRead(buffer) }
    func upstreamReadComplete() { exchange.downstream.flush() }
    func upstreamWritabilityChanged(_ writable: Bool) { exchange.upstreamWritabilityChanged(writable) }
    func upstreamClosed() { exchange.finishTunnel() }
}

/// What the HTTP/1 connection machine asks of the exchange in flight (read gating).
extension ProxyExchange: HTTP1ConnectionExchange {}
