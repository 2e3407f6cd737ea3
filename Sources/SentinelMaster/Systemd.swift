import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// sd_notify for `Type=notify` units: READY=1 when a generation is live, RELOADING=1 (with
/// MONOTONIC_USEC, which systemd ≥ 253 requires) when a reload starts, STOPPING=1, and STATUS=.
///
/// Only the master notifies: workers never see NOTIFY_SOCKET (`Spawner.workerEnvironment`), so
/// with NotifyAccess=main nothing a worker does can confuse systemd. Without NOTIFY_SOCKET
/// `sd_notify` does nothing.
public struct SystemdNotifier: Sendable {
    public init() {}

    public func notify(_ state: String) {
        _ = sd_notify(0, state)
    }

    /// "RELOADING=1" plus the CLOCK_MONOTONIC time in microseconds.
    public static func reloading() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return "RELOADING=1\nMONOTONIC_USEC=\(UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000)"
    }
}
