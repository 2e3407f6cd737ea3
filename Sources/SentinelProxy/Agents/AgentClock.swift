#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock times the protocol carries (Cancel's `timestamp_ms`, RequestHeaders' RFC 3339
/// `timestamp`).
enum AgentClock {
    static func unixMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    static func unixNanos() -> (seconds: Int64, nanos: Int) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (Int64(ts.tv_sec), Int(ts.tv_nsec))
    }
}
