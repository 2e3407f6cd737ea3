internal import Glibc

/// A point on the monotonic clock in milliseconds. Milliseconds are fine enough for every
/// timeout Sentinel has (the smallest configurable one is 1 ms) and keep the timer wheel's
/// arithmetic in plain integers.
public struct ReactorInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var milliseconds: UInt64

    public init(milliseconds: UInt64) { self.milliseconds = milliseconds }

    public static func < (a: ReactorInstant, b: ReactorInstant) -> Bool { a.milliseconds < b.milliseconds }

    /// This instant moved `ms` later.
    public func adding(milliseconds ms: UInt64) -> ReactorInstant { ReactorInstant(milliseconds: milliseconds &+ ms) }

    /// CLOCK_MONOTONIC now. The reactor reads it once per loop iteration and hands that value to
    /// drivers (`DriverIO.now`), so a burst of events costs one clock read.
    public static func now() -> ReactorInstant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ReactorInstant(milliseconds: UInt64(ts.tv_sec) &* 1000 &+ UInt64(ts.tv_nsec / 1_000_000))
    }

    public var description: String { "\(milliseconds) ms" }
}
