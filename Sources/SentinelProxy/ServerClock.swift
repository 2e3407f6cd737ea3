#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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

/// RFC 3339 UTC formatting without Foundation (civil-from-days, H. Hinnant).
enum RFC3339 {
    static func format(unixSeconds: Double) -> String {
        let total = Int64(unixSeconds.rounded(.down))
        let millis = Int((unixSeconds - Double(total)) * 1000)
        var days = total / 86_400
        var secs = total % 86_400
        if secs < 0 {
            secs += 86_400
            days -= 1
        }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secs / 3600, 2)):\(pad(secs % 3600 / 60, 2)):"
            + "\(pad(secs % 60, 2)).\(pad(Int64(max(0, millis)), 3))Z"
    }
}
