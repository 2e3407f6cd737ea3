import NIOCore

/// The connection's deadlines, served by one lazily re-armed timer: the phase deadline (the
/// whole request head, or the keep-alive idle period) and the current exchange's deadline
/// (upstream read silence, whole-request timeout, stalled writes).
///
/// The timer is re-armed only when it would fire too late. Deadlines only ever move later on a
/// healthy connection, so a busy keep-alive connection schedules about one timer per timeout
/// period instead of one (plus a cancellation) per request; an early firing just re-checks the
/// real deadlines and re-arms.
extension ProxyConnectionHandler {
    /// How long an idle connection stays open after a drain starts (see the quiesce event).
    static let quiesceGrace: Duration = .milliseconds(250)

    /// A drain (reload or shutdown) started: finish the request in flight, then close. Also
    /// takes the connection's TLS facts from `TLSServerHandler`.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? ConnectionTLS {
            connectionTLS = tls
            return
        }
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            // An idle keep-alive connection gets a short grace instead of an immediate close: a
            // client may have sent its next request already, and closing under it fails that
            // request (FINDINGS: one error per busy connection per reload). A request arriving in
            // the grace is answered with `Connection: close`; otherwise the idle deadline closes.
            if case .awaitingHead = state, inbound.readableBytes == 0 { setDeadline(after: Self.quiesceGrace, idle: true) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Sets the phase deadline.
    func setDeadline(after duration: Duration, idle: Bool, now: UInt64? = nil) {
        let now = now ?? shared.clock.monotonicNanos()
        phaseDeadline = now &+ UInt64(max(0, duration.nanoseconds))
        phaseIsIdle = idle
        ensureTimer(firesBy: phaseDeadline, now: now)
    }

    /// Sets the current exchange's deadline (0: none). The exchange's `timerFired` runs once
    /// it has passed, and re-arms through this method.
    func setExchangeDeadline(_ deadline: UInt64, now: UInt64) {
        exchangeDeadline = deadline
        guard deadline != 0 else { return }
        ensureTimer(firesBy: deadline, now: now)
    }

    private func ensureTimer(firesBy deadline: UInt64, now: UInt64) {
        if deadlineTimer != nil, timerFiresAt <= deadline { return }
        armDeadlineTimer(at: deadline, now: now)
    }

    private func armDeadlineTimer(at deadline: UInt64, now: UInt64) {
        deadlineTimer?.cancel()
        timerFiresAt = deadline
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        deadlineTimer = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(deadline &- min(now, deadline)))) {
            bound.value.deadlineTimerFired()
        }
    }

    func deadlineTimerFired() {
        deadlineTimer = nil
        if case .closed = state { return }
        var now = shared.clock.monotonicNanos()
        if exchangeDeadline != 0, now >= exchangeDeadline {
            exchangeDeadline = 0
            switch state {
            case .proxying(let exchange), .tunneling(let exchange): exchange.timerFired()
            default: break
            }
            if case .closed = state { return }
            now = shared.clock.monotonicNanos()
        }
        if phaseDeadline != 0, now >= phaseDeadline {
            phaseDeadline = 0
            if phaseIsIdle && inbound.readableBytes == 0 {
                close()
                return
            }
            switch state {
            case .awaitingHead:
                headTimedOut(ProxyError(.clientHeadTooSlow))
                return
            case .discardingBody(let reply):
                headTimedOut(ProxyError(.clientBodyTooSlow, route: reply.routeID), traceID: reply.traceID)
                return
            default:
                break
            }
        }
        // Whatever is still pending (a deadline moved later since the timer was armed).
        let pending = [phaseDeadline, exchangeDeadline].filter { $0 != 0 }.min()
        if let pending, deadlineTimer == nil || timerFiresAt > pending { armDeadlineTimer(at: pending, now: now) }
    }

    /// The head (or the body of a locally answered request) did not arrive in time: 408 and close.
    /// `traceID`: the request's id when its head arrived (a body too slow), else a new one.
    private func headTimedOut(_ error: ProxyError, traceID given: String? = nil) {
        let traceID = given ?? shared.newTraceID()
        // Ends the request whose body was too slow, if any (a head that never arrived began none).
        finishRequest(route: nil, method: "OTHER", status: error.status, seconds: 0, log: nil)
        let bytes = BuiltinHandlers.error(error.status, traceID: traceID).serialized(includeBody: true, close: true, date: pool.date.currentFieldLine())
        state = .closed
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(bytes: bytes))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
