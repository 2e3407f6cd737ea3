import Logging
import SentinelObservability

/// The I/O part of systemd's watchdog (see `WatchdogState`).
extension Runner {
    /// Arms the period timer when systemd set `WATCHDOG_USEC` for this process.
    func startWatchdog() {
        guard let period = watchdog?.period else { return }
        log.emit("info", "watchdog_enabled", ["period_ms": .int(period.components.seconds * 1000 + period.components.attoseconds / 1_000_000_000_000_000)])
        let continuation = self.continuation
        Task {
            while true {
                try? await Task.sleep(for: period)
                if case .terminated = continuation.yield(.watchdogTick) { return }
            }
        }
    }

    /// Rotates the session-ticket keys every `TicketKeyMaterial.period` (sent to every worker).
    func startTicketKeyRotation(every period: Duration = TicketKeyMaterial.period) {
        let continuation = self.continuation
        Task {
            while true {
                try? await Task.sleep(for: period)
                if case .terminated = continuation.yield(.rotateTicketKeys) { return }
            }
        }
    }

    /// Runs on the master's loop, so a wedged loop sends nothing. No pets before the first
    /// READY=1 (systemd arms the watchdog when start-up completes).
    mutating func watchdogTick() {
        guard var w = watchdog, state.phase != .starting else { return }
        let live = state.generations.filter { $0.state == .live }.flatMap { g in g.workers.filter(\.ready).compactMap(\.pid) }
        let tick = w.tick(now: now, workers: live, checkWorkers: state.phase == .running)
        watchdog = w
        if tick.changed {
            if tick.pet {
                log.emit("info", "watchdog_resumed")
            } else {
                notifier.notify("STATUS=watchdog withheld: worker \(tick.wedged.map(String.init).joined(separator: ",")) unresponsive")
                log.emit("error", "watchdog_withheld", ["unresponsive_pids": .ints(tick.wedged)])
            }
        }
        if tick.pet { notifier.notify("WATCHDOG=1") }
        for pid in tick.ping { links[pid]?.send(MasterMessage.ping(tick.seq).line) }
    }
}
