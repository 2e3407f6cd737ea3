#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The Prometheus reload convention: whether the latest configuration load succeeded, and when
/// the latest successful one happened.
///
/// It exists so an alert can say "the configuration on disk is broken" (`…_successful == 0`)
/// even though the old configuration keeps serving. The initial load counts as a successful one
/// (its timestamp is the start). Written by whatever process applies reloads (`sentinel` on
/// SIGHUP, the `sentinel-stack` master), read at scrape time; one short lock, off the request path.
public final class ReloadMetrics: Sendable {
    private struct State {
        var successful = true
        var lastSuccess: Double
    }

    private let state: Mutex<State>

    /// `now`: Unix seconds of the initial (successful) load.
    public init(now: Double = ReloadMetrics.unixNow()) {
        state = Mutex(State(lastSuccess: now))
    }

    public func succeeded(at now: Double = ReloadMetrics.unixNow()) {
        state.withLock {
            $0.successful = true
            $0.lastSuccess = now
        }
    }

    public func failed() {
        state.withLock { $0.successful = false }
    }

    public var lastReloadSuccessful: Bool { state.withLock { $0.successful } }
    public var lastSuccessTimestamp: Double { state.withLock { $0.lastSuccess } }

    /// Exposition text of the two gauges.
    public func render() -> String {
        let s = state.withLock { $0 }
        return """
            # HELP sentinel_config_last_reload_successful Whether the last configuration reload attempt was successful.
            # TYPE sentinel_config_last_reload_successful gauge
            sentinel_config_last_reload_successful \(s.successful ? 1 : 0)
            # HELP sentinel_config_last_reload_success_timestamp_seconds Timestamp of the last successful configuration reload.
            # TYPE sentinel_config_last_reload_success_timestamp_seconds gauge
            sentinel_config_last_reload_success_timestamp_seconds \(ProcessMetrics.number((s.lastSuccess * 1000).rounded() / 1000))

            """
    }

    public static func unixNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
