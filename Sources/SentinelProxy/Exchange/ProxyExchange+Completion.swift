import NIOCore
import SentinelHTTP1

/// How an exchange ends: complete, answered with an error, or aborted mid-response; and what it
/// records.
extension ProxyExchange {
    /// Ends the exchange once both directions are complete (or the response ended early).
    func maybeFinish() {
        // Ends once, and only with the response complete. When the upstream answered before the
        // whole body arrived, the client's remaining bytes cannot be told apart from a next
        // request: neither connection is kept (`finishComplete` decides).
        guard lifecycle.finishComplete() != nil else { return }
        disarmTimer()
        // One clock read serves the balancer's latency, the pool, the metrics and the next
        // keep-alive deadline.
        let now = shared.clock.monotonicNanos()
        report(status >= 500 ? .failure(.serverError) : .success, now: now)
        if let connection {
            connection.delegate = nil
            self.connection = nil
            pool.release(connection, reusable: upstreamReusable, limits: upstream.poolLimits, now: now)
        }
        record(status: status, now: now)
        // A response without a body (HEAD, 204, 304, Content-Length: 0) ends on its head, which
        // nothing else flushes: the upstream's read-complete no longer reaches this exchange.
        downstream.flush()
        downstream.finish(keepAlive: !willCloseClient, now: now)
    }

    /// The one way out of a failed exchange. When no response byte went out yet, the client gets
    /// the error's status as a JSON answer; otherwise (or when it can no longer be answered) its
    /// connection closes and it sees a truncated response. Either way the target's outcome is
    /// reported, the failure counted by kind, and the request's metrics and access-log line
    /// (with the error as the reason) written, once.
    func fail(_ error: ProxyError) {
        guard let ended = lifecycle.finish() else { return }
        disarmTimer()
        retryTask?.cancel()
        report(error.healthFailure.map { .failure($0) })
        if error.source != .client { shared.metrics.upstreamFailure(upstream: upstream.id, kind: error.kind) }
        // A malformed body counts against the target's response errors, but (as before this
        // exit existed) not against its passive health: `healthFailure` is nil for it.
        if error.kind == .malformedResponseBody { shared.metrics.upstreamResponseError(slot: metricSlot, reason: .malformed) }
        guard !ExchangeLifecycle.responseStarted(ended), error.canAnswerClient else {
            closeUpstream()
            record(status: status != 0 ? status : error.status, error: error)
            // A client that closed has nothing left to close.
            if error.kind != .clientClosed { downstream.reset() }
            return
        }
        status = error.status
        if let connection {
            connection.delegate = nil
            self.connection = nil
            pool.release(connection, reusable: false, limits: upstream.poolLimits)
        }
        // A client at fault, or whose request was not read to its end, is not kept.
        let close = error.source == .client || !clientKeepAlive || !requestComplete
        downstream.writeAnswer(BuiltinHandlers.error(status, traceID: traceID), isHead: method == .head, keepAlive: !close)
        record(status: status, error: error)
        downstream.finish(keepAlive: !close, now: nil)
    }

    /// A failure of the current target (or the way to it), in the exchange's context.
    func upstreamError(_ kind: ProxyError.Kind, deadline: Duration? = nil, cause: String? = nil) -> ProxyError {
        ProxyError(
            kind, upstream: upstream.id, target: upstream.targetAddresses[targetIndex], route: routeID, deadline: deadline,
            cause: cause)
    }

    /// A failure of the client, in the exchange's context.
    func clientError(_ kind: ProxyError.Kind, deadline: Duration? = nil) -> ProxyError {
        ProxyError(kind, upstream: upstream.id, route: routeID, deadline: deadline)
    }

    /// Closes the upstream connection mid-exchange (never returned to the pool).
    func closeUpstream() {
        guard let connection else { return }
        connection.delegate = nil
        connection.close()
        self.connection = nil
    }

    func record(status: Int, error: ProxyError? = nil, now: UInt64? = nil) {
        let seconds = Double((now ?? shared.clock.monotonicNanos()) &- startNanos) / 1e9
        downstream.requestEnded(
            route: routeID, method: methodName, status: status, seconds: seconds, target: takeAttemptSample(),
            log: {
                ExchangeLogFields(
                    bodyBytes: responseBodyBytes, traceID: traceID,
                    upstream: UpstreamLogFields(
                        id: upstream.id, address: upstream.targetAddresses[targetIndex], attempts: attempt,
                        reused: attempt > 0 ? lifecycle.reused : nil),
                    error: error)
            })
    }
}
