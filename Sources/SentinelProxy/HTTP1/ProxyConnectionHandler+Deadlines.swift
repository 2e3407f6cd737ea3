import NIOCore

/// The connection's phase deadlines (request head, keep-alive idle): one lazily re-armed timer.
extension ProxyConnectionHandler {
    /// Sets the phase deadline. The timer is re-armed only when it would fire too late, so a busy
    /// keep-alive connection schedules about one timer per timeout period, not one per request.
    func setDeadline(after duration: Duration, idle: Bool) {
        let now = shared.clock.monotonicNanos()
        phaseDeadline = now &+ UInt64(max(0, duration.nanoseconds))
        phaseIsIdle = idle
        if deadlineTimer != nil, timerFiresAt <= phaseDeadline { return }
        armDeadlineTimer(now: now)
    }

    func armDeadlineTimer(now: UInt64) {
        deadlineTimer?.cancel()
        timerFiresAt = phaseDeadline
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        deadlineTimer = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(phaseDeadline &- min(now, phaseDeadline)))) {
            bound.value.deadlineTimerFired()
        }
    }

    func deadlineTimerFired() {
        deadlineTimer = nil
        guard phaseDeadline != 0 else { return }
        if case .closed = state { return }
        let now = shared.clock.monotonicNanos()
        if now < phaseDeadline {
            armDeadlineTimer(now: now)
            return
        }
        phaseDeadline = 0
        if phaseIsIdle && inbound.readableBytes == 0 {
            close()
            return
        }
        guard case .awaitingHead = state else { return }
        // The head did not arrive in time: 408 and close.
        let traceID = shared.newTraceID()
        shared.metrics.recordRequest(route: nil, method: "OTHER", status: 408, durationSeconds: 0)
        let bytes = BuiltinHandlers.error(408, traceID: traceID).serialized(includeBody: true, close: true)
        state = .closed
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(bytes: bytes))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
