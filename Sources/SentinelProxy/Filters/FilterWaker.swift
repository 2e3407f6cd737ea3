/// How a waiting filter's verdict gets back to its request: the connection's wake target and
/// the ticket of the wait. Cheap to copy and Sendable: an agent client holds it until its reply
/// arrives, on whatever thread that is.
struct FilterWaker: Sendable {
    let target: any FilterWakeTarget
    let ticket: UInt64

    /// Delivers the verdict. The host resumes the request on the connection's event loop,
    /// always later (never inside this call); a verdict for a wait the host gave up (the client
    /// went away, the request timed out) or a second verdict is ignored.
    func resume(_ verdict: FilterVerdict) {
        target.wake(ticket: ticket, verdict)
    }
}

/// A connection's side of `FilterWaker`: implemented by each host (the NIO HTTP/1 handler, the
/// reactor's driver). One per connection, made when a route's chain first may wait.
protocol FilterWakeTarget: AnyObject, Sendable {
    /// Schedules the request waiting under `ticket` to resume with `verdict` on the
    /// connection's event loop.
    func wake(ticket: UInt64, _ verdict: FilterVerdict)
}
