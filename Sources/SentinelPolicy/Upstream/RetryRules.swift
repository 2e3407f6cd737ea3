/// Why an attempt to an upstream failed, as far as retry safety is concerned.
public enum UpstreamFailure: Sendable, Hashable {
    /// TCP connect refused or reset before the connection was established: nothing was sent.
    case connectRefused
    /// TCP (or TLS) connect timed out: nothing was sent.
    case connectTimeout
    /// A pooled keep-alive connection turned out to be closed by the upstream.
    case reusedConnectionClosed
    /// The upstream took too long to answer after the request was sent.
    case readTimeout
    /// The upstream answered with this status.
    case status(Int)

    /// True when the upstream cannot have seen any byte of the request.
    public var requestNeverSent: Bool {
        switch self {
        case .connectRefused, .connectTimeout: return true
        case .reusedConnectionClosed, .readTimeout, .status: return false
        }
    }
}

/// The retry rules of a route: which failures may be replayed, how many times, and how long to wait.
///
/// Why it exists: replaying a request is only safe when it cannot cause an effect twice. Idempotent
/// methods (RFC 9110 §9.2.2) may be replayed after connection failures and retryable statuses; other
/// methods only when the upstream cannot have received the request. The backoff is exponential with
/// full jitter so that clients that failed together do not retry together. Read timeouts are not
/// retried unless asked: the upstream may still be working, and a retry doubles the load on a target
/// that is already slow.
public struct RetryRules: Sendable, Hashable {
    /// Attempts in total, the first included (1 = no retries).
    public var maxAttempts: Int
    public var backoffBase: Duration
    public var backoffMax: Duration
    public var retryableStatuses: Set<Int>
    public var retryReadTimeouts: Bool

    public init(
        maxAttempts: Int = 3, backoffBase: Duration = .milliseconds(100), backoffMax: Duration = .seconds(10),
        retryableStatuses: Set<Int> = [502, 503, 504], retryReadTimeouts: Bool = false
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.backoffBase = max(.zero, backoffBase)
        self.backoffMax = max(.zero, backoffMax)
        self.retryableStatuses = retryableStatuses
        self.retryReadTimeouts = retryReadTimeouts
    }

    /// GET HEAD OPTIONS TRACE PUT DELETE. Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET.
    public static func isIdempotent(_ method: String) -> Bool {
        switch method {
        case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE": return true
        default: return false
        }
    }

    /// Whether attempt number `attempt` (1 = the first) failing with `failure` may be followed by another.
    /// - Parameter bodySent: whether any byte of the request was written to the upstream. The caller
    ///   must also still hold the request body (buffered) to replay it; that is its own check.
    public func shouldRetry(method: String, bodySent: Bool, failure: UpstreamFailure, attempt: Int) -> Bool {
        guard attempt < maxAttempts else { return false }
        if failure.requestNeverSent { return true }
        if case .reusedConnectionClosed = failure, !bodySent {
            // The upstream closed an idle connection before any byte was written: nothing was sent.
            return true
        }
        guard Self.isIdempotent(method) else { return false }
        switch failure {
        case .connectRefused, .connectTimeout, .reusedConnectionClosed: return true
        case .readTimeout: return retryReadTimeouts
        case .status(let code): return retryableStatuses.contains(code)
        }
    }

    /// The longest wait before retry number `attempt` (1 = the first retry): min(base × 2^(attempt−1), max).
    public func backoffCap(attempt: Int) -> Duration {
        var cap = backoffBase
        var n = 1
        while n < attempt, cap < backoffMax {
            cap = cap * 2
            n += 1
        }
        return min(cap, backoffMax)
    }

    /// Full jitter: uniform in [0, backoffCap(attempt)] (AWS architecture blog, "Exponential Backoff
    /// and Jitter"), at nanosecond resolution.
    public func backoff(attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let cap = backoffCap(attempt: attempt).policyNanoseconds
        guard cap > 0 else { return .zero }
        let draw = UInt64(cap).addingReportingOverflow(1).partialValue.multipliedFullWidth(by: generator.next()).high
        return .nanoseconds(Int64(draw))
    }
}

/// The targets one request has already tried, so a retry goes elsewhere when it can.
///
/// Why it exists: retrying on the target that just failed usually fails again; the balancer's
/// `pick(_:avoiding:eligible:)` excludes these and falls back to them only when nothing else is eligible.
public struct TriedTargets: Sendable, Hashable {
    /// The first two targets inline (almost every request tries one, a retry two): no array,
    /// so no allocation per request. −1: empty slot.
    private var first = -1
    private var second = -1
    private var more: [Int] = []

    public init() {}

    /// The targets tried, in order.
    public var indices: [Int] {
        var out: [Int] = []
        if first >= 0 { out.append(first) }
        if second >= 0 { out.append(second) }
        return out + more
    }

    public var isEmpty: Bool { first < 0 }

    public func contains(_ target: Int) -> Bool {
        target == first || target == second || (!more.isEmpty && more.contains(target))
    }

    public mutating func insert(_ target: Int) {
        guard target >= 0, !contains(target) else { return }
        if first < 0 {
            first = target
        } else if second < 0 {
            second = target
        } else {
            more.append(target)
        }
    }
}

/// One request's retry bookkeeping: attempts made, targets tried, and the decision after a failure.
///
/// Why it exists: "should I retry, after how long, and where not to go" is one decision that needs
/// the rules, the shared budget, the method, what was sent and what failed; keeping it a value with a
/// single `failed` event makes the data plane's retry loop a plain `switch` on the returned action.
public struct RetryState: Sendable {
    public enum Decision: Sendable, Hashable {
        /// Wait `after`, then pick again avoiding `avoiding`.
        case retry(after: Duration, avoiding: TriedTargets)
        case giveUp(Reason)
    }

    public enum Reason: Sendable, Hashable {
        /// The method, the failure or what was already sent makes a replay unsafe or pointless.
        case notRetryable
        case attemptsExhausted
        /// The upstream-wide retry budget is spent: retrying now would amplify an outage.
        case budgetExhausted
    }

    public private(set) var attempts = 0
    public private(set) var tried = TriedTargets()

    public init() {}

    /// Call when an attempt is sent to `target`.
    public mutating func started(target: Int) {
        attempts += 1
        tried.insert(target)
    }

    /// Call when the current attempt failed; withdraws from `budget` only if it decides to retry.
    public mutating func failed(
        method: String, bodySent: Bool, failure: UpstreamFailure, rules: RetryRules, budget: inout RetryBudget,
        now: Duration, using generator: inout some RandomNumberGenerator
    ) -> Decision {
        let attempt = max(attempts, 1)
        if attempt >= rules.maxAttempts { return .giveUp(.attemptsExhausted) }
        guard rules.shouldRetry(method: method, bodySent: bodySent, failure: failure, attempt: attempt) else {
            return .giveUp(.notRetryable)
        }
        guard budget.withdraw(now: now) else { return .giveUp(.budgetExhausted) }
        return .retry(after: rules.backoff(attempt: attempt, using: &generator), avoiding: tried)
    }
}
