/// Whether a request is in flight on a connection, for the active-requests gauge.
///
/// A request begins once (its head arrived, or it failed to parse) and ends exactly once,
/// whichever path ends it: an answer, a failed exchange, a timeout, the client leaving. Each path
/// asks the tally instead of pairing `requestStarted`/`requestFinished` by hand, so a request
/// ended twice (or never begun) cannot move the gauge twice.
struct RequestTally {
    private(set) var inFlight = false

    /// Begins a request; false when one is already in flight (the gauge must not move).
    mutating func begin() -> Bool {
        defer { inFlight = true }
        return !inFlight
    }

    /// Ends the request in flight; false when none is (already ended, or never begun).
    mutating func finish() -> Bool {
        defer { inFlight = false }
        return inFlight
    }
}
