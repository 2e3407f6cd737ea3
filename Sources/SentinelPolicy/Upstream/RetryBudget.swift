/// A retry budget over a sliding window (10 one-second buckets by default): retries in the window
/// may not exceed `ratio` × requests in the window + `minPerSecond` × window seconds (Finagle's
/// RetryBudget shape: a deposit per request, a reserve for low traffic, a withdrawal per retry).
///
/// Why it exists: per-request attempt limits still let retries triple the load on an upstream that
/// is already failing, turning a partial outage into a full one. A budget shared by all requests to
/// an upstream caps the extra load at `ratio` (20 % by default) while still letting a quiet upstream
/// retry a few requests per second. Time arrives as `now`; the window slides lazily.
public struct RetryBudget: Sendable {
    public let ratio: Double
    public let minPerSecond: Int
    private let bucketCount: Int
    /// Per-second buckets, indexed by second modulo `bucketCount`, tagged with their second.
    private var seconds: [Int64]
    private var requests: [Int]
    private var retries: [Int]

    public init(ratio: Double = 0.2, minPerSecond: Int = 10, window: Duration = .seconds(10)) {
        self.ratio = min(max(ratio, 0), 1000)
        self.minPerSecond = max(0, minPerSecond)
        bucketCount = Int(min(max(window.components.seconds, 1), 3600))
        seconds = Array(repeating: .min, count: bucketCount)
        requests = Array(repeating: 0, count: bucketCount)
        retries = Array(repeating: 0, count: bucketCount)
    }

    private mutating func bucket(_ now: Duration) -> Int {
        let second = now.components.seconds
        let i = Int(((second % Int64(bucketCount)) + Int64(bucketCount)) % Int64(bucketCount))
        if seconds[i] != second {
            seconds[i] = second
            requests[i] = 0
            retries[i] = 0
        }
        return i
    }

    private func totals(_ now: Duration) -> (requests: Int, retries: Int) {
        let second = now.components.seconds
        var req = 0
        var ret = 0
        for i in 0..<bucketCount
        where seconds[i] != .min && second - seconds[i] < Int64(bucketCount) && seconds[i] <= second {
            req += requests[i]
            ret += retries[i]
        }
        return (req, ret)
    }

    /// Counts one original (non-retry) request.
    public mutating func recordRequest(now: Duration) {
        requests[bucket(now)] += 1
    }

    /// Retries still allowed in the current window.
    public func available(now: Duration) -> Int {
        let (req, ret) = totals(now)
        let allowance = PolicyMath.floorInt(ratio * Double(req)) + minPerSecond * bucketCount
        return max(0, allowance - ret)
    }

    /// Takes one retry from the budget; false (and nothing taken) when it is spent.
    public mutating func withdraw(now: Duration) -> Bool {
        guard available(now: now) > 0 else { return false }
        retries[bucket(now)] += 1
        return true
    }
}
