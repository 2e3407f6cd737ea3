/// The timeouts of one proxied exchange as a value: when its deadline is, and which timeout (if
/// any) expired when the timer fires. `ProxyExchange` updates it as bytes move and performs the
/// expiry it returns; the rules are tested with a manual clock in `ExchangeLifecycleTests`.
///
/// All times are monotonic nanoseconds; 0 means "not running". The connect timeout is the
/// pool's (it bounds the connect the pool performs), not this clock's.
struct ExchangeClock: Equatable {
    /// The bounds in force: the current upstream's timeouts and the listener's rules.
    struct Limits: Equatable {
        /// Whole exchange, from the request's start (not for a tunnel).
        var requestNanos: UInt64
        /// Silence from the upstream while Sentinel reads (also a tunnel's idle timeout).
        var readNanos: UInt64
        /// An upstream that stops accepting the request body.
        var writeNanos: UInt64
        /// A client that stops reading the response (the listener's request timeout).
        var clientStallNanos: UInt64
        /// The listener's minimum request body rate: nanoseconds per byte (0: none), after a grace.
        var bodyNanosPerByte: UInt64 = 0
        var bodyGraceNanos: UInt64 = 0
    }

    /// What the exchange knows at the moment it asks.
    struct Facts: Equatable {
        var tunnel = false
        var requestComplete = false
        /// Body bytes received from the client so far.
        var bodyReceived: UInt64 = 0
        var clientWritable = true
        /// An upstream connection carries the attempt.
        var connected = true
        var upstreamWritable = true
    }

    /// A timeout that expired, in the order they are checked.
    enum Expiry: Equatable {
        /// The client sends its body below the minimum rate, or stopped while Sentinel waits
        /// for it (the whole-exchange deadline passed with the upstream ready for more): 408.
        case bodyTooSlow
        /// The whole exchange took longer than the upstream's request timeout: 504.
        case requestTimeout
        /// The upstream was silent for its read timeout while the client kept up: 504 (retryable).
        case responseTimeout
        /// A tunnel was idle both ways for the read timeout: it ends.
        case tunnelIdle
        /// The client stopped reading the response for the listener's request timeout.
        case clientStalled
        /// The upstream stopped accepting the request body for its write timeout.
        case writeTimeout
    }

    /// When the request started (the whole-exchange deadline counts from here).
    let start: UInt64
    /// Last byte from, or request byte to, the upstream (the read timeout counts from here).
    var lastUpstreamActivity: UInt64 = 0
    var clientBlockedSince: UInt64 = 0
    var upstreamBlockedSince: UInt64 = 0
    /// The body-rate clock: it runs only while Sentinel reads the body (from the upstream
    /// connection on) and pauses while the upstream accepts no bytes (`bodyPausedSince`), so only
    /// the client's own slowness counts.
    var bodyClockStart: UInt64 = 0
    var bodyPausedSince: UInt64 = 0

    init(start: UInt64) { self.start = start }

    // MARK: - Inputs

    /// An attempt's connection is ready at `now`: the read timeout counts from here, and the body
    /// rate clock starts when a body is still to be read under a minimum rate.
    mutating func connected(now: UInt64, requestComplete: Bool, upstreamWritable: Bool, limits: Limits) {
        lastUpstreamActivity = now
        if !requestComplete, limits.bodyNanosPerByte != 0 {
            bodyClockStart = now
            bodyPausedSince = upstreamWritable ? 0 : now
        }
    }

    /// The attempt ended (a retry follows): the body clock restarts with the next connection.
    mutating func attemptEnded() {
        bodyClockStart = 0
        bodyPausedSince = 0
    }

    /// The upstream's writability changed while the body is read. Returns true when the clock
    /// resumed (the deadline moved: re-arm).
    mutating func upstreamWritabilityChanged(_ writable: Bool, requestComplete: Bool, now: UInt64) -> Bool {
        guard bodyClockStart != 0, !requestComplete else { return false }
        // Time the upstream spends not accepting the body is not the client's.
        if !writable {
            if bodyPausedSince == 0 { bodyPausedSince = now }
            return false
        }
        guard bodyPausedSince != 0 else { return false }
        bodyClockStart &+= now &- bodyPausedSince
        bodyPausedSince = 0
        return true
    }

    // MARK: - Deadline

    /// When the request body, at the minimum rate, must have reached its current size; nil while
    /// the rate is not measured (no minimum, body complete, upstream not accepting).
    func bodyRateDeadline(_ facts: Facts, limits: Limits) -> UInt64? {
        guard bodyClockStart != 0, bodyPausedSince == 0, !facts.requestComplete else { return nil }
        let (perBytes, overflow) = facts.bodyReceived.multipliedReportingOverflow(by: limits.bodyNanosPerByte)
        return overflow ? .max : bodyClockStart &+ limits.bodyGraceNanos &+ min(perBytes, .max / 2)
    }

    /// The next time the timeouts must be checked (never 0).
    func deadline(now: UInt64, _ facts: Facts, limits: Limits) -> UInt64 {
        let readDeadline = lastUpstreamActivity &+ limits.readNanos
        var deadline = facts.tunnel ? readDeadline : min(readDeadline, start &+ limits.requestNanos)
        if let body = bodyRateDeadline(facts, limits: limits) { deadline = min(deadline, body) }
        if !facts.clientWritable || (facts.connected && !facts.upstreamWritable) {
            // Stalls are checked at least once a second.
            deadline = min(deadline, now &+ 1_000_000_000)
        }
        return max(deadline, 1)
    }

    /// The timer fired at `now`: the timeout that expired, if any. Keeps the stall bookkeeping
    /// (a client not reading holds the read timeout, which counts only while Sentinel reads).
    mutating func expired(now: UInt64, _ facts: Facts, limits: Limits) -> Expiry? {
        if let body = bodyRateDeadline(facts, limits: limits), now >= body { return .bodyTooSlow }
        if !facts.tunnel, now &- start >= limits.requestNanos {
            // Sentinel was still waiting for the client's body, not for the upstream.
            if !facts.requestComplete, facts.connected, facts.upstreamWritable { return .bodyTooSlow }
            return .requestTimeout
        }
        if now &- lastUpstreamActivity >= limits.readNanos, facts.clientWritable {
            return facts.tunnel ? .tunnelIdle : .responseTimeout
        }
        // A client that stops reading holds the exchange open: bounded by the listener's
        // request timeout, as nginx's send_timeout does.
        if !facts.clientWritable {
            lastUpstreamActivity = now
            if clientBlockedSince == 0 { clientBlockedSince = now }
            if now &- clientBlockedSince >= limits.clientStallNanos { return .clientStalled }
        } else {
            clientBlockedSince = 0
        }
        if !facts.requestComplete, facts.connected, !facts.upstreamWritable {
            if upstreamBlockedSince == 0 { upstreamBlockedSince = now }
            if now &- upstreamBlockedSince >= limits.writeNanos { return .writeTimeout }
        } else {
            upstreamBlockedSince = 0
        }
        return nil
    }
}
