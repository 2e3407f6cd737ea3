import CSystemd

/// systemd's watchdog (`WatchdogSec=`) as a value type: when to send `WATCHDOG=1`.
///
/// The master pets every `period` (half of `WATCHDOG_USEC`), from its one loop, so a wedged loop
/// stops the pets by itself. It also pings every ready worker of the live generation on its
/// control socket; the worker answers only after a task ran on each of its event loops. A
/// worker that left a ping unanswered for a whole period is wedged: the master then withholds
/// `WATCHDOG=1`, and systemd restarts the service after `WatchdogSec` (a worker that merely
/// crashed is respawned by the master instead; that needs no watchdog). Draining workers are
/// not asked (their drain deadline bounds them), nor are workers of a generation still starting.
public struct WatchdogState: Sendable {
    public let period: Duration
    /// Pings sent and not answered yet: pid → (sequence number, when).
    public private(set) var outstanding: [Int32: (seq: UInt64, at: Duration)] = [:]
    public private(set) var withheld = false
    private var seq: UInt64 = 0

    public init(period: Duration) { self.period = period }

    /// `WATCHDOG_USEC` (and `WATCHDOG_PID`, when set, naming this process) through libsystemd:
    /// the petting period, half the interval; nil when systemd expects no pets.
    public static func fromEnvironment() -> WatchdogState? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return WatchdogState(period: .microseconds(Int64(usec / 2)))
    }

    public struct Tick: Sendable, Equatable {
        /// Send WATCHDOG=1.
        public var pet: Bool
        /// Send PING <seq> to these workers.
        public var ping: [Int32]
        public var seq: UInt64
        /// Workers that did not answer for a period (empty when healthy).
        public var wedged: [Int32]
        /// A change between healthy and withheld, to log once.
        public var changed: Bool
    }

    /// One period passed. `workers`: ready workers of the live generation; `checkWorkers` false
    /// while stopping (then only the loop's own responsiveness counts).
    public mutating func tick(now: Duration, workers: [Int32], checkWorkers: Bool = true) -> Tick {
        let current = Set(workers)
        outstanding = outstanding.filter { current.contains($0.key) }
        let wedged = checkWorkers ? outstanding.filter { now - $0.value.at >= period / 2 }.keys.sorted() : []
        let wasWithheld = withheld
        withheld = !wedged.isEmpty
        seq += 1
        var ping: [Int32] = []
        if checkWorkers {
            for pid in workers.sorted() where outstanding[pid] == nil {
                outstanding[pid] = (seq, now)
                ping.append(pid)
            }
        }
        return Tick(pet: !withheld, ping: ping, seq: seq, wedged: wedged, changed: wasWithheld != withheld)
    }

    /// PONG from a worker: any answer clears its outstanding ping (answers come in order).
    public mutating func pong(pid: Int32, seq: UInt64) {
        if let o = outstanding[pid], seq >= o.seq { outstanding[pid] = nil }
    }

    public mutating func exited(pid: Int32) { outstanding[pid] = nil }
}
