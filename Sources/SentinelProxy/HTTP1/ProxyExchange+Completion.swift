import NIOCore
import SentinelHTTP1

/// How an exchange ends: complete, answered with an error, or aborted mid-response; and what it
/// records.
extension ProxyExchange {
    /// Ends the exchange once both directions are complete (or the response ended early).
    func maybeFinish() {
        guard !finished, responseComplete else { return }
        if !requestComplete {
            // The upstream answered before the whole body arrived: the client's remaining bytes
            // cannot be told apart from a next request, so this connection ends here.
            upstreamReusable = false
            willCloseClient = true
        }
        finished = true
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
        handler.flush()
        handler.exchangeFinished(keepAlive: !willCloseClient, now: now)
    }

    /// Answers the client with a JSON error when nothing was sent yet; closes otherwise.
    func fail(_ status: Int, reason: String) {
        guard !finished else { return }
        if responseStarted {
            abort()
            return
        }
        shared.metrics.upstreamFailure(upstream: upstream.id, status: status)
        sendLocalError(status, closeClient: !requestComplete || !clientKeepAlive)
    }

    func sendLocalError(_ status: Int, closeClient: Bool) {
        finished = true
        disarmTimer()
        retryTask?.cancel()
        report(nil)
        self.status = status
        if let connection {
            connection.delegate = nil
            self.connection = nil
            pool.release(connection, reusable: false, limits: upstream.poolLimits)
        }
        let close = closeClient || !requestComplete
        let response = BuiltinHandlers.error(status, traceID: traceID)
        handler.writeAndFlush(handler.context.channel.allocator.buffer(bytes: response.serialized(
            includeBody: method != .head, close: close, date: pool.date.currentFieldLine(), http10KeepAlive: clientVersion == .http1_0)))
        record(status: status)
        handler.exchangeFinished(keepAlive: !close)
    }

    /// Gives up mid-response: both connections close, the client sees a truncated response.
    func abort() {
        guard !finished else { return }
        finished = true
        disarmTimer()
        report(nil)
        closeUpstream()
        record(status: status == 0 ? 502 : status)
        handler.close()
    }

    /// Closes the upstream connection mid-exchange (never returned to the pool).
    func closeUpstream() {
        guard let connection else { return }
        connection.delegate = nil
        connection.isBroken = true
        connection.channel.close(promise: nil)
        self.connection = nil
    }

    func record(status: Int, now: UInt64? = nil) {
        let seconds = Double((now ?? shared.clock.monotonicNanos()) &- startNanos) / 1e9
        shared.metrics.recordFinishedRequest(
            route: routeID, method: methodName, status: status, durationSeconds: seconds, target: takeAttemptSample())
        if let facts = handler.currentFacts {
            handler.logAccess(
                facts, version: clientVersion, status: status, bodyBytes: responseBodyBytes, seconds: seconds,
                routeID: routeID, traceID: traceID,
                upstream: .init(
                    id: upstream.id, address: upstream.targetAddresses[targetIndex], attempts: attempt,
                    reused: attempt > 0 ? reused : nil))
        }
    }
}
