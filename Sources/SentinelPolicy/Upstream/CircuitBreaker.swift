/// A circuit breaker for one upstream target (or one agent): closed → open after `failureThreshold`
/// consecutive failures; open → half-open once `timeout` has passed (noticed lazily by the next
/// `allow`); half-open lets at most `halfOpenMaxRequests` trials run at once; `successThreshold`
/// trial successes close it and any trial failure reopens it.
///
/// Why it exists: a dead or overloaded target should stop receiving traffic quickly (no connect
/// timeout per request, no retry storm piling onto it) and be probed gently before it gets full
/// traffic again. It is a value with no clock: time comes in as `now`, and every state change is
/// returned as a `Transition` for the caller to log and count (`circuit_breaker_state`, trips).
public struct CircuitBreaker: Sendable {
    /// Thresholds, with the original's defaults (the code's `halfOpenMaxRequests` of 1, not the docs' 3).
    public struct Configuration: Sendable, Hashable {
        public var failureThreshold: Int
        public var successThreshold: Int
        public var timeout: Duration
        public var halfOpenMaxRequests: Int

        /// Values below 1 are raised to 1.
        public init(
            failureThreshold: Int = 5, successThreshold: Int = 2, timeout: Duration = .seconds(30),
            halfOpenMaxRequests: Int = 1
        ) {
            self.failureThreshold = max(1, failureThreshold)
            self.successThreshold = max(1, successThreshold)
            self.timeout = max(.zero, timeout)
            self.halfOpenMaxRequests = max(1, halfOpenMaxRequests)
        }
    }

    public enum State: String, Sendable, Hashable {
        case closed
        case open
        case halfOpen = "half_open"
    }

    /// A change of state, returned so the caller can log it and update metrics.
    public struct Transition: Sendable, Hashable {
        public let from: State
        public let to: State

        public init(from: State, to: State) {
            self.from = from
            self.to = to
        }
    }

    /// The answer to `allow`.
    public struct Admission: Sendable, Hashable {
        /// Whether the request may go to this target.
        public let allowed: Bool
        /// Set when asking caused open → half-open.
        public let transition: Transition?

        public init(allowed: Bool, transition: Transition?) {
            self.allowed = allowed
            self.transition = transition
        }
    }

    private enum Phase: Sendable, Hashable {
        case closed(consecutiveFailures: Int)
        case open(since: Duration)
        case halfOpen(inFlight: Int, successes: Int)
    }

    public let configuration: Configuration
    private var phase: Phase = .closed(consecutiveFailures: 0)
    /// Times the breaker has opened (closed → open and half-open → open).
    public private(set) var trips = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public var state: State {
        switch phase {
        case .closed: return .closed
        case .open: return .open
        case .halfOpen: return .halfOpen
        }
    }

    /// Whether `allow(now:)` would admit a request, without changing anything: for the balancer's
    /// `eligible` closure, which may be asked several times per pick.
    public func wouldAllow(now: Duration) -> Bool {
        switch phase {
        case .closed: return true
        case .open(let since): return now - since >= configuration.timeout
        case .halfOpen(let inFlight, _): return inFlight < configuration.halfOpenMaxRequests
        }
    }

    /// Admits (and, in half-open, reserves a trial slot for) one request to this target.
    /// Every admitted request must later be reported with `recordSuccess` or `recordFailure`.
    public mutating func allow(now: Duration) -> Admission {
        switch phase {
        case .closed:
            return Admission(allowed: true, transition: nil)
        case .open(let since):
            guard now - since >= configuration.timeout else { return Admission(allowed: false, transition: nil) }
            phase = .halfOpen(inFlight: 1, successes: 0)
            return Admission(allowed: true, transition: Transition(from: .open, to: .halfOpen))
        case .halfOpen(let inFlight, let successes):
            guard inFlight < configuration.halfOpenMaxRequests else {
                return Admission(allowed: false, transition: nil)
            }
            phase = .halfOpen(inFlight: inFlight + 1, successes: successes)
            return Admission(allowed: true, transition: nil)
        }
    }

    /// A request to this target succeeded.
    public mutating func recordSuccess() -> Transition? {
        switch phase {
        case .closed:
            phase = .closed(consecutiveFailures: 0)
            return nil
        case .open:
            // A straggler admitted before the breaker opened proves little; the timeout decides.
            return nil
        case .halfOpen(let inFlight, let successes):
            guard inFlight > 0 else { return nil }  // not one of the trials
            if successes + 1 >= configuration.successThreshold {
                phase = .closed(consecutiveFailures: 0)
                return Transition(from: .halfOpen, to: .closed)
            }
            phase = .halfOpen(inFlight: inFlight - 1, successes: successes + 1)
            return nil
        }
    }

    /// A request to this target failed (connect error, timeout, or a status the caller counts as failure).
    public mutating func recordFailure(now: Duration) -> Transition? {
        switch phase {
        case .closed(let failures):
            if failures + 1 >= configuration.failureThreshold {
                phase = .open(since: now)
                trips += 1
                return Transition(from: .closed, to: .open)
            }
            phase = .closed(consecutiveFailures: failures + 1)
            return nil
        case .open:
            return nil
        case .halfOpen(let inFlight, _):
            guard inFlight > 0 else { return nil }
            phase = .open(since: now)
            trips += 1
            return Transition(from: .halfOpen, to: .open)
        }
    }

    /// Releases a half-open trial slot for a request that was admitted but never sent (e.g. the
    /// client went away), so the breaker does not stay half-open with no trial in flight.
    public mutating func cancel() {
        if case .halfOpen(let inFlight, let successes) = phase, inFlight > 0 {
            phase = .halfOpen(inFlight: inFlight - 1, successes: successes)
        }
    }
}
