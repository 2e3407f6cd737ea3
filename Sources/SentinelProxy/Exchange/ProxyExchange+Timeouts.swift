import NIOCore
import SentinelHTTP1

extension ProxyExchange {
    // MARK: - Timeouts

    /// The exchange's deadline, served by the connection's timer: read timeout (silence from the
    /// upstream while a response is awaited or streaming), and the whole-exchange deadline.
    func armTimer(now: UInt64? = nil) {
        let now = now ?? shared.clock.monotonicNanos()
        let readDeadline = lastUpstreamActivity &+ UInt64(upstream.readTimeout.nanoseconds)
        let totalDeadline = startNanos &+ UInt64(upstream.requestTimeout.nanoseconds)
        var deadline = tunneling ? readDeadline : min(readDeadline, totalDeadline)
        if let bodyDeadline = bodyRateDeadline { deadline = min(deadline, bodyDeadline) }
        if !downstream.isWritable || !(connection?.isWritable ?? true) {
            // Stalls are checked at least once a second.
            deadline = min(deadline, now &+ 1_000_000_000)
        }
        downstream.setExchangeDeadline(max(deadline, 1), now: now)
    }

    /// The exchange no longer needs its deadline (finished, or between attempts).
    func disarmTimer() {
        downstream.clearExchangeDeadline(of: ObjectIdentifier(self))
    }

    /// When the request body, at the listener's minimum rate, must have reached its current
    /// size; nil while the rate is not being measured (no minimum, body complete, not reading).
    var bodyRateDeadline: UInt64? {
        guard bodyClockStart != 0, bodyPausedSince == 0, !requestComplete else { return nil }
        let (perBytes, overflow) = body.received.multipliedReportingOverflow(by: bodyNanosPerByte)
        return overflow ? .max : bodyClockStart &+ bodyGraceNanos &+ min(perBytes, .max / 2)
    }

    /// The client sends its body too slowly (or stopped while Sentinel waits for it): 408, and
    /// the upstream connection, which holds part of a request, is discarded. The target did
    /// nothing wrong: no failure is reported against it.
    func requestBodyTooSlow() {
        upstreamReusable = false
        fail(clientError(.clientBodyTooSlow))
    }

    func timerFired() {
        guard !finished else { return }
        let now = shared.clock.monotonicNanos()
        let isTunnel = tunneling
        if let bodyDeadline = bodyRateDeadline, now >= bodyDeadline {
            requestBodyTooSlow()
            return
        }
        if !isTunnel, now &- startNanos >= UInt64(upstream.requestTimeout.nanoseconds) {
            if !requestComplete, let connection, connection.isWritable {
                // Sentinel was still waiting for the client's body, not for the upstream.
                requestBodyTooSlow()
                return
            }
            upstreamReusable = false
            fail(upstreamError(.requestTimeout, deadline: upstream.requestTimeout))
            return
        }
        // Silence only counts while Sentinel is actually reading (the client is keeping up).
        if now &- lastUpstreamActivity >= UInt64(upstream.readTimeout.nanoseconds), downstream.isWritable {
            if isTunnel {
                finishTunnel()
                return
            }
            upstreamReusable = false
            attemptFailed(upstreamError(.responseTimeout, deadline: upstream.readTimeout))
            return
        }
        // A client that stops reading holds the exchange open: bounded by the listener's
        // request timeout, as nginx's send_timeout does.
        if !downstream.isWritable {
            lastUpstreamActivity = now
            if clientBlockedSince == 0 { clientBlockedSince = now }
            let limit = clientStallTimeout
            if now &- clientBlockedSince >= UInt64(limit.nanoseconds) {
                fail(clientError(.clientStalled, deadline: limit))
                return
            }
        } else {
            clientBlockedSince = 0
        }
        // An upstream that stops accepting the request body.
        if !requestComplete, let connection, !connection.isWritable {
            if upstreamBlockedSince == 0 { upstreamBlockedSince = now }
            if now &- upstreamBlockedSince >= UInt64(upstream.writeTimeout.nanoseconds) {
                upstreamReusable = false
                fail(upstreamError(.writeTimeout, deadline: upstream.writeTimeout))
                return
            }
        } else {
            upstreamBlockedSince = 0
        }
        armTimer()
    }


}
