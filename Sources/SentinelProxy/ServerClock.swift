#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SentinelFormat

/// The two clocks the server reads, injected so tests can pin timestamps and durations.
///
/// It exists because STYLE forbids hidden clock reads: status uptime, JSON timestamps, trace-id
/// time prefixes and request durations all come from here.
public struct ServerClock: Sendable {
    /// Wall-clock seconds since the Unix epoch.
    public var wallSeconds: @Sendable () -> Double
    /// Monotonic nanoseconds, for durations.
    public var monotonicNanos: @Sendable () -> UInt64

    public init(wallSeconds: @escaping @Sendable () -> Double, monotonicNanos: @escaping @Sendable () -> UInt64) {
        self.wallSeconds = wallSeconds
        self.monotonicNanos = monotonicNanos
    }

    /// The operating system's clocks.
    public static let system = ServerClock(
        wallSeconds: {
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        },
        monotonicNanos: {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        }
    )
}

/// RFC 3339 UTC formatting without Foundation.
enum RFC3339 {
    static func format(unixSeconds: Double) -> String {
        let total = Int64(unixSeconds.rounded(.down))
        let millis = Int((unixSeconds - Double(total)) * 1000)
        return CivilTime(unixSeconds: total).rfc3339(milliseconds: max(0, millis))
    }
}
