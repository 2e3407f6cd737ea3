/// Active health-check state for one target: `healthyThreshold` consecutive probe successes make it
/// healthy, `unhealthyThreshold` consecutive failures make it unhealthy.
///
/// Why it exists: one lost probe must not drop a target and one lucky probe must not restore it, so
/// only runs of results count. A target starts `unknown`, which is eligible (spec §5.6: health-unknown
/// counts as healthy), so a fresh config serves traffic before the first probe completes. The probe
/// itself (TCP, HTTP, gRPC, inference) is I/O and lives in the data plane; this is only its verdict.
public struct ActiveHealthState: Sendable {
    public enum Status: String, Sendable, Hashable {
        case unknown
        case healthy
        case unhealthy
    }

    public struct Transition: Sendable, Hashable {
        public let from: Status
        public let to: Status

        public init(from: Status, to: Status) {
            self.from = from
            self.to = to
        }
    }

    public let healthyThreshold: Int
    public let unhealthyThreshold: Int
    public private(set) var status: Status = .unknown
    public private(set) var consecutiveSuccesses = 0
    public private(set) var consecutiveFailures = 0

    /// Thresholds below 1 are raised to 1.
    public init(healthyThreshold: Int = 2, unhealthyThreshold: Int = 3) {
        self.healthyThreshold = max(1, healthyThreshold)
        self.unhealthyThreshold = max(1, unhealthyThreshold)
    }

    /// Whether the balancer may use this target.
    public var isEligible: Bool { status != .unhealthy }

    /// Records one probe result and returns the status change it caused, if any.
    public mutating func record(success: Bool) -> Transition? {
        if success {
            consecutiveSuccesses += 1
            consecutiveFailures = 0
            if status != .healthy, consecutiveSuccesses >= healthyThreshold { return move(to: .healthy) }
        } else {
            consecutiveFailures += 1
            consecutiveSuccesses = 0
            if status != .unhealthy, consecutiveFailures >= unhealthyThreshold { return move(to: .unhealthy) }
        }
        return nil
    }

    private mutating func move(to next: Status) -> Transition {
        let transition = Transition(from: status, to: next)
        status = next
        return transition
    }
}
