import NIOCore

/// The connection's deadlines, served by one lazily re-armed timer: the phase deadline (the
/// whole request head, the keep-alive idle period, a discarded body) and the current exchange's
/// deadline (upstream read silence, whole-request timeout, stalled writes). `machine` decides
/// when the timer must fire and what its firing means; this extension performs that.
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
            quiesce()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// A drain started (either host).
    func quiesce() {
        // An idle keep-alive connection gets a short grace instead of an immediate close: a
        // client may have sent its next request already, and closing under it fails that
        // request (FINDINGS: one error per busy connection per reload). A request arriving in
        // the grace is answered with `Connection: close`; otherwise the idle deadline closes.
        let now = shared.clock.monotonicNanos()
        perform(machine.quiesce(now: now, buffered: inbound.readableBytes > 0), now: now)
    }

    /// Performs what the machine decided: arms the timer, then takes the step. `now`: the clock
    /// reading the input was given (read here only when a timer must be armed without one).
    func perform(_ actions: Machine.Actions, now: UInt64? = nil) {
        if let at = actions.armTimer { armDeadlineTimer(at: at, now: now ?? shared.clock.monotonicNanos()) }
        switch actions.step {
        case .none:
            break
        case .nextRequest, .closeAfterWrites:
            // Returned by `requestFinished` only, which `requestEnded` performs itself.
            break
        case .close:
            host.close()
        case .headTimedOut:
            headTimedOut(ProxyError(.clientHeadTooSlow))
        case .bodyTimedOut(let reply):
            headTimedOut(ProxyError(.clientBodyTooSlow, route: reply.request.routeID), traceID: reply.request.traceID)
        case .exchangeTimer(let exchange):
            exchange.timerFired()
        case .filterTimedOut:
            filterWaitTimedOut()
        }
    }

    func armDeadlineTimer(at deadline: UInt64, now: UInt64) {
        host.armTimer(at: deadline, now: now)
    }

    func cancelDeadlineTimer() {
        host?.cancelTimer()
        machine.timerCancelled()
    }

    /// The host's timer fired (at or after the deadline last armed).
    func deadlineTimerFired() {
        if machine.isClosed { return }
        let now = shared.clock.monotonicNanos()
        perform(machine.timerFired(now: now, buffered: inbound.readableBytes > 0), now: now)
    }

    /// The head (or the body of a locally answered request) did not arrive in time: 408 and close.
    /// `traceID`: the request's id when its head arrived (a body too slow), else a new one.
    private func headTimedOut(_ error: ProxyError, traceID given: String? = nil) {
        let traceID = given ?? shared.newTraceID()
        // Ends the request whose body was too slow, if any (a head that never arrived began none).
        finishRequest(route: nil, method: "OTHER", status: error.status, seconds: 0, log: nil)
        let bytes = BuiltinHandlers.error(error.status, traceID: traceID).serialized(includeBody: true, close: true, date: pool.date.currentFieldLine())
        writeAndFlush(host.allocator.buffer(bytes: bytes))
        host.closeAfterWrites()
    }
}
