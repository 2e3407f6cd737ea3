/// Outlier ejection from real traffic for one target: a sliding window of its last `window` outcomes;
/// when the failure rate reaches `failureRate` with at least `minRequests` outcomes in the window, the
/// target is ejected for `ejectionTime`, then readmitted on probation with an empty window.
///
/// Why it exists: active probes are slow (seconds apart) and test one endpoint; real requests show a
/// failing target at once. The minimum sample count stops one failed connection from ejecting a
/// target (the bug the original fixed in 26.01_10), and the timed readmission stops an ejection from
/// being permanent. A target ejected again while on probation stays out longer each time (×2, ×3, …
/// up to ×`maxEjectionMultiplier`), so a flapping target cannot take a burst of traffic every
/// `ejectionTime`. Time arrives as `now`; every change is returned as a `Transition`.
public struct PassiveHealth: Sendable {
    public struct Configuration: Sendable, Hashable {
        public var window: Int
        public var failureRate: Double
        public var minRequests: Int
        public var ejectionTime: Duration
        public var maxEjectionMultiplier: Int

        public init(
            window: Int = 100, failureRate: Double = 0.5, minRequests: Int = 10, ejectionTime: Duration = .seconds(30),
            maxEjectionMultiplier: Int = 10
        ) {
            self.window = min(max(window, 1), 1_000_000)
            self.failureRate = min(max(failureRate, 0.000_001), 1)
            self.minRequests = min(max(minRequests, 1), self.window)
            self.ejectionTime = max(ejectionTime, .zero)
            self.maxEjectionMultiplier = max(maxEjectionMultiplier, 1)
        }
    }

    public enum Status: Sendable, Hashable {
        case healthy
        case ejected(until: Duration)
        /// Readmitted; a clean window of `minRequests` outcomes makes it healthy again.
        case probation
    }

    public enum Transition: Sendable, Hashable {
        case ejected(until: Duration, failureRate: Double)
        case readmitted
        case recovered
    }

    public let configuration: Configuration
    public private(set) var status: Status = .healthy
    /// Ejections since the target was last healthy (drives the growing ejection time).
    public private(set) var consecutiveEjections = 0
    /// Outcome ring: bit set = failure.
    private var bits: [UInt64]
    private var head = 0
    public private(set) var samples = 0
    public private(set) var failures = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        bits = Array(repeating: 0, count: (configuration.window + 63) / 64)
    }

    /// Whether the balancer may use this target at `now` (an ejection that has expired counts as
    /// readmitted even before `poll` records it).
    public func isEligible(now: Duration) -> Bool {
        if case .ejected(let until) = status { return now >= until }
        return true
    }

    /// The failure rate of the current window (0 when empty).
    public var currentFailureRate: Double {
        samples == 0 ? 0 : Double(failures) / Double(samples)
    }

    /// Readmits the target if its ejection has expired.
    public mutating func poll(now: Duration) -> Transition? {
        guard case .ejected(let until) = status, now >= until else { return nil }
        clearWindow()
        status = .probation
        return .readmitted
    }

    /// Readmits at once (e.g. an active health check succeeded).
    public mutating func readmit() -> Transition? {
        guard case .ejected = status else { return nil }
        clearWindow()
        status = .probation
        return .readmitted
    }

    /// Records one outcome. While ejected, outcomes of requests still in flight are ignored.
    /// Returns the transition it caused; when an expired ejection is also noticed here, `.readmitted`
    /// is returned in preference (call `poll` on a timer to see readmissions promptly).
    public mutating func record(success: Bool, now: Duration) -> Transition? {
        let readmission = poll(now: now)
        if case .ejected = status { return nil }
        push(failure: !success)
        if samples >= configuration.minRequests,
            Double(failures) >= configuration.failureRate * Double(samples)
        {
            let rate = currentFailureRate
            consecutiveEjections = min(consecutiveEjections + 1, configuration.maxEjectionMultiplier)
            let until = now + configuration.ejectionTime * consecutiveEjections
            status = .ejected(until: until)
            return .ejected(until: until, failureRate: rate)
        }
        if status == .probation, samples >= configuration.minRequests {
            status = .healthy
            consecutiveEjections = 0
            return readmission ?? .recovered
        }
        return readmission
    }

    private mutating func push(failure: Bool) {
        let word = head >> 6
        let mask: UInt64 = 1 << UInt64(head & 63)
        if samples == configuration.window {
            if bits[word] & mask != 0 { failures -= 1 }
        } else {
            samples += 1
        }
        if failure {
            bits[word] |= mask
            failures += 1
        } else {
            bits[word] &= ~mask
        }
        head += 1
        if head == configuration.window { head = 0 }
    }

    private mutating func clearWindow() {
        for i in bits.indices { bits[i] = 0 }
        head = 0
        samples = 0
        failures = 0
    }
}
