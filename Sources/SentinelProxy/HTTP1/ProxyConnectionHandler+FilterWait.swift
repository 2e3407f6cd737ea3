import NIOCore
import SentinelHTTP1

/// The NIO host's side of a filter verdict that arrives later (phase 3 said "wait").
///
/// The request's head stays at the front of `inbound` (its ranges stay right: nothing is
/// consumed), the machine's phase is `awaitingFilter` (nothing more is read, and the request
/// timeout bounds the wait), and the verdict comes back through the connection's
/// `ConnectionWakeTarget`, always as a new task on the connection's event loop. Then phase 3
/// goes on from the next filter, and the request proceeds as if it had never waited. A client
/// that goes away, or the request timeout, cancels the wait: the filter is told once, and a
/// verdict that still arrives is ignored (its ticket no longer matches).
extension ProxyConnectionHandler {
    /// A request waiting for a filter's verdict, with everything the phases after it need.
    /// One allocation per wait (never on a request whose filters do not wait).
    final class FilterWait {
        /// The waker's ticket of the filter waited for: a verdict with another is stale.
        var ticket: UInt64
        let head: RequestHead
        let keepAlive: Bool
        let start: UInt64
        let facts: RequestFacts
        let traceID: String
        let body: BodyCounter
        let route: ResolvedRoute
        let admitted: Admitted
        var run: FilterRun
        var pending: any PendingFilter

        init(
            ticket: UInt64, head: RequestHead, keepAlive: Bool, start: UInt64, facts: RequestFacts, traceID: String, body: BodyCounter,
            route: ResolvedRoute, admitted: Admitted, run: FilterRun, pending: any PendingFilter
        ) {
            self.ticket = ticket
            self.head = head
            self.keepAlive = keepAlive
            self.start = start
            self.facts = facts
            self.traceID = traceID
            self.body = body
            self.route = route
            self.admitted = admitted
            self.run = run
            self.pending = pending
        }
    }

    /// A fresh ticket for a filter run (a plain counter: no allocation).
    func nextFilterTicket() -> UInt64 {
        filterTickets &+= 1
        return filterTickets
    }

    /// The connection's wake target, made on first use.
    func filterWakeTarget() -> ConnectionWakeTarget {
        if let target = wakeTarget { return target }
        let target = ConnectionWakeTarget(loop: host.eventLoop)
        target.handler = self
        wakeTarget = target
        return target
    }

    /// The observer of this request's filter decisions (metrics and failure logs).
    func filterEvents(_ start: UInt64) -> FilterEvents {
        FilterEvents(metrics: shared.metrics.filters, logger: shared.health.logger, second: start / 1_000_000_000)
    }

    /// Phase 3 waits: stop reading and arm the request timeout.
    func beginFilterWait(_ wait: FilterWait) {
        filterWait = wait
        let now = shared.clock.monotonicNanos()
        perform(machine.awaitFilter(now: now), now: now)
    }

    /// A verdict arrived (on this loop). Ignored unless it is for the wait in progress.
    func filterVerdictArrived(ticket: UInt64, _ verdict: FilterVerdict) {
        guard let wait = filterWait, wait.ticket == ticket, machine.isAwaitingFilter else { return }
        let chain = wait.route.filters
        let step = inbound.withUnsafeReadableBytes { p -> Admission.Step in
            let bytes = HeadBytes(p, head: wait.head)
            let ticket = nextFilterTicket()
            let request = filterRequest(wait.head, bytes, wait.facts, traceID: wait.traceID, route: wait.route, ticket: ticket)
            switch FilterPhase.resume(&wait.run, chain, with: verdict, request: request, keepAlive: wait.keepAlive, observer: filterEvents(wait.start)) {
            case .answer(let answer): return .answer(answer)
            case .wait(let pending):
                wait.ticket = ticket
                wait.pending = pending
                return .wait(wait)
            case .proceed(let effects):
                return afterFilters(
                    wait.head, bytes, wait.admitted, effects: effects, request: wait.facts, routeID: wait.route.id, traceID: wait.traceID)
            }
        }
        // Another filter of the chain waits: same phase, same deadline.
        if case .wait = step { return }
        filterWait = nil
        inbound.moveReaderIndex(forwardBy: wait.head.headLength)
        let admission = Admission(facts: wait.facts, traceID: wait.traceID, routeID: wait.route.id, body: wait.body, step: step,
                                  responseEdits: wait.route.responseEdits)
        performAdmission(admission, head: wait.head, start: wait.start, keepAlive: wait.keepAlive)
        // Bytes that arrived behind the head (its body, a pipelined request) are worked through now.
        process()
    }

    /// The connection closed while a filter was waited for: tell the filter.
    func cancelFilterWait(_ reason: FilterCancelReason) {
        guard let wait = filterWait else { return }
        filterWait = nil
        wait.run.cancel(wait.route.filters, wait.pending, reason, observer: filterEvents(wait.start))
    }

    /// The request timeout passed while a filter was waited for: the filter is told, the client
    /// gets 504 and the connection closes (the body, if any, was never read).
    func filterWaitTimedOut() {
        guard let wait = filterWait else { return }
        cancelFilterWait(.timeout)
        let now = shared.clock.monotonicNanos()
        let error = ProxyError(
            .filterTimedOut, route: wait.route.id, deadline: listener?.requestTimeout,
            cause: "the request timeout passed while waiting for a filter")
        let log = snapshot.accessLog != nil
            ? AccessLogEntry(facts: wait.facts, version: wait.head.version, bodyBytes: 0, traceID: wait.traceID, upstream: nil, error: error)
            : nil
        finishRequest(
            route: wait.route.id, method: wait.facts.method, status: error.status, seconds: Double(now &- wait.start) / 1e9, log: log)
        let bytes = BuiltinHandlers.error(error.status, traceID: wait.traceID)
            .serialized(includeBody: wait.head.method != .head, close: true, date: pool.date.currentFieldLine())
        host.write(host.allocator.buffer(bytes: bytes))
        host.closeAfterWrites()
    }
}

/// The NIO connection's `FilterWakeTarget`: delivers a verdict as a new task on the
/// connection's event loop, to the handler if it still exists.
final class ConnectionWakeTarget: FilterWakeTarget, @unchecked Sendable {
    let loop: any EventLoop
    /// Read and written only on `loop` (set when made, there; read in the task `wake` schedules).
    weak var handler: ProxyConnectionHandler?

    init(loop: any EventLoop) { self.loop = loop }

    func wake(ticket: UInt64, _ verdict: FilterVerdict) {
        loop.execute { self.handler?.filterVerdictArrived(ticket: ticket, verdict) }
    }
}
