/// A token bucket: `rate` tokens a second refill it, up to `capacity` (the `burst`); a request
/// takes one token. A fresh key holds a full bucket, so it may send `capacity` requests at once,
/// then `rate` a second.
///
/// Stated as its equivalent "theoretical arrival time" (the generic cell rate algorithm): the
/// whole state of a key is one 64-bit instant `tat`, the time at which its bucket would be
/// full again. An instant at or before `now` is a full bucket, which is also what a key never
/// seen holds: an idle key needs no state at all. One word of state is what lets workers share
/// a bucket through a single compare-and-swap in shared memory (`KeyTable`).
///
/// Pure integer arithmetic on nanoseconds of a monotonic clock the caller passes in; no clock
/// is read here, so tests drive it with a manual one.
public struct TokenBucket: Sendable, Hashable {
    /// Tokens added per second (`max-rps`).
    public let rate: Int
    /// The most tokens the bucket holds (`burst`, at least 1).
    public let capacity: Int
    /// Nanoseconds per token (1 s / rate, rounded to the nearest nanosecond).
    public let interval: UInt64
    /// How far ahead of now the arrival time may run: capacity × interval.
    public let tolerance: UInt64

    /// `burst` 0 is taken as 1: a bucket must hold one token for any request to pass.
    public init(ratePerSecond: Int, burst: Int) {
        precondition(ratePerSecond >= 1 && ratePerSecond <= 1_000_000_000, "rate out of range")
        rate = ratePerSecond
        capacity = max(1, min(burst, 1_000_000_000))
        interval = (1_000_000_000 + UInt64(ratePerSecond) / 2) / UInt64(ratePerSecond)
        tolerance = UInt64(capacity) * interval
    }

    public enum Outcome: Sendable, Hashable {
        /// Passed now; one token taken.
        case admitted
        /// Passes after `nanoseconds` (a future token is reserved for it; `on-limit "delay"`).
        case delayed(nanoseconds: UInt64)
        /// Over the limit; nothing was taken.
        case limited
    }

    public struct Decision: Sendable, Hashable {
        public var outcome: Outcome
        /// The key's new arrival time; nil when the state is unchanged (limited).
        public var newTAT: UInt64?
        /// Whole tokens left after this request.
        public var remaining: Int
        /// For `limited`: nanoseconds until a request would pass; 0 otherwise.
        public var retryAfter: UInt64
        /// Nanoseconds until the bucket is full again.
        public var fullAfter: UInt64
    }

    /// The verdict on one request of a key whose arrival time is `tat` (0 for a new key) at
    /// `now`. With `maxDelay` > 0 a request that would pass within `maxDelay` is `delayed`
    /// instead of `limited`.
    public func decide(tat: UInt64, now: UInt64, maxDelay: UInt64 = 0) -> Decision {
        let start = max(tat, now)
        let next = start &+ interval
        let horizon = now &+ tolerance
        if next <= horizon {
            return Decision(outcome: .admitted, newTAT: next, remaining: Int((horizon - next) / interval),
                            retryAfter: 0, fullAfter: next - now)
        }
        let wait = next - horizon
        if maxDelay > 0, wait <= maxDelay {
            return Decision(outcome: .delayed(nanoseconds: wait), newTAT: next, remaining: 0, retryAfter: 0, fullAfter: next - now)
        }
        return Decision(outcome: .limited, newTAT: nil, remaining: 0, retryAfter: wait, fullAfter: start - now)
    }
}
