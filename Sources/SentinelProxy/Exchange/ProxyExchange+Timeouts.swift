import NIOCore
import SentinelHTTP1

extension ProxyExchange {
    // MARK: - Timeouts

    /// The bounds of `clock`: the current upstream's timeouts (they change with a fallback), the
    /// listener's request timeout for a stalled client, and its minimum body rate.
    var clockLimits: ExchangeClock.Limits {
        ExchangeClock.Limits(
            requestNanos: UInt64(requestTimeout.nanoseconds), readNanos: UInt64(readTimeout.nanoseconds),
            writeNanos: UInt64(writeTimeout.nanoseconds),
            clientStallNanos: clientStallNanos,
            bodyNanosPerByte: bodyNanosPerByte, bodyGraceNanos: bodyGraceNanos)
    }

    /// The upstream's timeouts as this route overrides them (`routeTimeouts`).
    var requestTimeout: Duration { routeTimeouts?.request ?? upstream.requestTimeout }
    var readTimeout: Duration { routeTimeouts?.read ?? upstream.readTimeout }
    var writeTimeout: Duration { routeTimeouts?.write ?? upstream.writeTimeout }

    /// The pool limits of an attempt: the upstream's, with the route's connect timeout.
    var attemptLimits: UpstreamPool.Limits {
        guard let connect = routeTimeouts?.connect else { return upstream.poolLimits }
        var limits = upstream.poolLimits
        limits.connectTimeout = connect
        return limits
    }

    /// What the clock needs to know of the exchange now.
    var clockFacts: ExchangeClock.Facts {
        ExchangeClock.Facts(
            tunnel: lifecycle.isTunnel, requestComplete: requestComplete, bodyReceived: body.received,
            clientWritable: downstream.isWritable, connected: connection != nil, upstreamWritable: connection?.isWritable ?? false)
    }

    /// The exchange's deadline, served by the connection's timer: the earliest of its timeouts
    /// (`ExchangeClock.deadline`).
    func armTimer(now: UInt64? = nil) {
        let now = now ?? shared.clock.monotonicNanos()
        downstream.setExchangeDeadline(clock.deadline(now: now, clockFacts, limits: clockLimits), of: self, now: now)
    }

    /// The exchange no longer needs its deadline (finished, or between attempts).
    func disarmTimer() {
        downstream.clearExchangeDeadline(of: self)
    }

    /// The client sends its body too slowly (or stopped while Sentinel waits for it): 408, and
    /// the upstream connection, which holds part of a request, is discarded. The target did
    /// nothing wrong: no failure is reported against it.
    func requestBodyTooSlow() {
        upstreamReusable = false
        fail(clientError(.clientBodyTooSlow))
    }

    /// The connection's timer reached this exchange's deadline: perform the timeout that
    /// expired (the clock decides which), or re-arm.
    func timerFired() {
        guard !lifecycle.isDone else { return }
        let now = shared.clock.monotonicNanos()
        let limits = clockLimits
        guard let expiry = clock.expired(now: now, clockFacts, limits: limits) else { return armTimer(now: now) }
        switch expiry {
        case .bodyTooSlow:
            requestBodyTooSlow()
        case .requestTimeout:
            upstreamReusable = false
            fail(upstreamError(.requestTimeout, deadline: requestTimeout))
        case .responseTimeout:
            upstreamReusable = false
            attemptFailed(upstreamError(.responseTimeout, deadline: readTimeout))
        case .tunnelIdle:
            finishTunnel()
        case .clientStalled:
            fail(clientError(.clientStalled, deadline: .nanoseconds(Int64(clamping: limits.clientStallNanos))))
        case .writeTimeout:
            upstreamReusable = false
            fail(upstreamError(.writeTimeout, deadline: writeTimeout))
        }
    }
}
