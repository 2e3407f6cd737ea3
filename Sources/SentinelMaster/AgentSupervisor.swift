import Logging
import SentinelObservability

/// The master's decisions about agent processes as a value type: events in, actions out, no I/O.
///
/// Kept apart from `MasterState` (workers) on purpose: agents have their own lifecycle (started
/// before the first generation, stopped after the last one drained, restarted per their own
/// policy) and the two machines only meet in the runner, so each stays testable on its own.
public struct AgentSupervisor: Sendable {
    public struct Timing: Sendable {
        /// Largest delay between two restarts of a crash-looping agent.
        public var backoffMax: Duration = .seconds(30)
        /// Smallest delay from the second consecutive failure on, so `restart-delay-ms 0` never spins.
        public var backoffFloor: Duration = .milliseconds(100)
        /// An agent that lived this long ends a crash streak: its next restart waits the base delay.
        public var stableAfter: Duration = .seconds(10)
        /// From this many consecutive failures on, the agent is reported as crash-looping.
        public var crashLoopAfter = 3

        public init() {}
    }

    public enum State: String, Sendable {
        /// Spawn requested, pid not known yet.
        case starting
        case running
        /// Exited; a restart is scheduled.
        case backoff
        /// SIGTERM sent (stop, removal or change); SIGKILL follows after `stop-timeout-ms`.
        case stopping
        /// Exited and not restarted: its policy says no, or the master is stopping.
        case stopped
        /// `max-restarts` reached: given up until a reload.
        case failed
    }

    public struct Agent: Sendable, Equatable {
        public var spec: AgentSpec
        public var state: State = .starting
        public var pid: Int32?
        public var restarts = 0
        /// Consecutive short-lived runs (the crash streak).
        public var failures = 0
        public var startedAt: Duration = .zero
        public var lastExit: String?
        /// Counts spawns, so a timer armed for an earlier run is recognised as stale.
        public var incarnation = 0
        /// Set by a reload: run this spec once the current process has exited.
        public var replacement: AgentSpec?
        /// Set by a reload that removed the agent: forget it once it has exited.
        public var removed = false
    }

    public enum Timer: Hashable, Sendable {
        case restart(agent: String, incarnation: Int)
        case kill(agent: String, pid: Int32)
        /// A crash-looping agent's run reached `stableAfter`: report the recovery (systemd's
        /// STATUS= would otherwise keep saying it is crash-looping).
        case stable(agent: String, incarnation: Int)
    }

    public enum Event: Sendable {
        /// The agents of a (new) configuration: start new ones, stop removed ones, restart changed ones.
        case configure([AgentSpec])
        case spawned(agent: String, pid: Int32)
        case spawnFailed(agent: String, reason: String)
        case exited(pid: Int32, ExitStatus)
        /// Workers are gone: SIGTERM every agent, SIGKILL after its stop timeout.
        case stop
        /// Second stop signal: SIGKILL every agent now.
        case fastStop
        case timer(Timer)
    }

    public enum Action: Sendable, Equatable {
        case spawn(AgentSpec)
        case signal(pid: Int32, Int32)
        case schedule(Timer, after: Duration)
        case log(LogEntry)
        case notify(String)
        /// Stopping and no agent process is left.
        case allStopped
    }

    public static let sigterm: Int32 = 15
    public static let sigkill: Int32 = 9

    public let timing: Timing
    /// By name, in configuration order.
    public private(set) var agents: [String: Agent] = [:]
    public private(set) var order: [String] = []
    public private(set) var stopping = false

    public init(timing: Timing = Timing()) { self.timing = timing }

    public var pids: [Int32] { order.compactMap { agents[$0]?.pid } }

    /// Whether an exit with `status` is followed by a restart under `policy`.
    public static func restarts(_ policy: AgentSpec.RestartPolicy, after status: ExitStatus) -> Bool {
        switch policy {
        case .always: return true
        case .onFailure: return !status.isClean
        case .never: return false
        }
    }

    /// The pause before restart number `failures` of a streak: the base delay first, then
    /// doubling from max(base, floor), capped, so a crash loop slows down and never spins.
    public func backoff(base: Duration, failures: Int) -> Duration {
        guard failures > 1 else { return min(base, timing.backoffMax) }
        var delay = max(base, timing.backoffFloor)
        for _ in 1..<failures where delay < timing.backoffMax { delay = delay * 2 }
        return min(delay, timing.backoffMax)
    }

    public mutating func handle(_ event: Event, now: Duration) -> [Action] {
        switch event {
        case .configure(let specs): return configure(specs)
        case .spawned(let name, let pid):
            guard var a = agents[name] else { return [.signal(pid: pid, Self.sigkill)] }
            a.pid = pid
            a.state = .running
            a.startedAt = now
            agents[name] = a
            var out = [log("info", "agent_started", name, [("agent_pid", .int(pid)), ("restarts", .int(a.restarts))])]
            if a.failures >= timing.crashLoopAfter {
                out.append(.schedule(.stable(agent: name, incarnation: a.incarnation), after: timing.stableAfter))
            }
            if stopping { out += terminate(name) }
            return out
        case .spawnFailed(let name, let reason):
            guard agents[name] != nil else { return [] }
            agents[name]!.startedAt = now
            return ended(name, status: "spawn failed: \(reason)", restart: agents[name]!.spec.restartPolicy != .never, now: now)
        case .exited(let pid, let status):
            guard let name = order.first(where: { agents[$0]?.pid == pid }) else { return [] }
            let restart = Self.restarts(agents[name]!.spec.restartPolicy, after: status)
            return ended(name, status: status.description, restart: restart, now: now)
        case .stop:
            stopping = true
            var out: [Action] = []
            for name in order { out += terminate(name) }
            return out + finishIfStopped()
        case .fastStop:
            stopping = true
            return pids.map { .signal(pid: $0, Self.sigkill) } + finishIfStopped()
        case .timer(let timer): return fire(timer)
        }
    }

    // MARK: - Transitions

    private mutating func configure(_ specs: [AgentSpec]) -> [Action] {
        guard !stopping else { return [] }
        var out: [Action] = []
        let names = Set(specs.map(\.name))
        for name in order where !names.contains(name) {
            agents[name]!.removed = true
            agents[name]!.replacement = nil
            out.append(log("info", "agent_removed", name, []))
            out += terminate(name)
        }
        for spec in specs {
            if var a = agents[spec.name], a.removed {
                // Removed by an earlier reload and still stopping: start it again once it exited.
                a.removed = false
                a.replacement = spec
                agents[spec.name] = a
                if !order.contains(spec.name) { order.append(spec.name) }
                out.append(log("info", "agent_changed", spec.name, []))
                continue
            }
            guard var a = agents[spec.name] else {
                agents[spec.name] = Agent(spec: spec)
                if !order.contains(spec.name) { order.append(spec.name) }
                out.append(.spawn(spec))
                continue
            }
            if a.spec == spec, a.replacement == nil {
                // Unchanged: leave it running; an agent given up on gets another chance.
                guard a.state == .failed else { continue }
                a.restarts = 0
                a.failures = 0
                a.state = .starting
                agents[spec.name] = a
                out.append(log("info", "agent_retried", spec.name, []))
                out.append(.spawn(spec))
                continue
            }
            out.append(log("info", "agent_changed", spec.name, []))
            if a.pid != nil {
                a.replacement = spec
                agents[spec.name] = a
                out += terminate(spec.name)
            } else {
                agents[spec.name] = Agent(spec: spec, incarnation: a.incarnation + 1)
                out.append(.spawn(spec))
            }
        }
        order = order.filter { agents[$0] != nil }
        return out
    }

    /// SIGTERM now, SIGKILL after the agent's stop timeout; an agent without a process just stops.
    private mutating func terminate(_ name: String) -> [Action] {
        guard var a = agents[name] else { return [] }
        guard let pid = a.pid else {
            if a.removed {
                agents[name] = nil
                order.removeAll { $0 == name }
            } else if a.state != .starting {
                a.state = .stopped
                agents[name] = a
            }
            return []
        }
        guard a.state != .stopping else { return [] }
        a.state = .stopping
        agents[name] = a
        return [
            log("info", "agent_stopping", name, [("agent_pid", .int(pid))]),
            .signal(pid: pid, Self.sigterm),
            .schedule(.kill(agent: name, pid: pid), after: a.spec.stopTimeout),
        ]
    }

    /// A run ended (an exit or a failed spawn): replace, forget, restart or leave it down.
    private mutating func ended(_ name: String, status: String, restart: Bool, now: Duration) -> [Action] {
        var a = agents[name]!
        let wasStopping = a.state == .stopping
        let pid = a.pid
        a.pid = nil
        a.lastExit = status
        let lifetime = now - a.startedAt
        var out = [log(wasStopping ? "info" : "warn", "agent_exited", name, [
            ("agent_pid", pid.map { Logger.MetadataValue.int($0) } ?? ""), ("status", "\(status)"), ("expected", .bool(wasStopping)),
        ])]
        if a.removed {
            agents[name] = nil
            order.removeAll { $0 == name }
            return out + finishIfStopped()
        }
        if let next = a.replacement, !stopping {
            agents[name] = Agent(spec: next, incarnation: a.incarnation + 1)
            return out + [.spawn(next)]
        }
        if stopping || wasStopping || !restart {
            a.state = .stopped
            agents[name] = a
            return out + finishIfStopped()
        }
        if let limit = a.spec.maxRestarts, a.restarts >= limit {
            a.state = .failed
            agents[name] = a
            let reason = "agent \(name) gave up after \(a.restarts) restarts (max-restarts \(limit)), last \(status)"
            return out + [log("error", "agent_gave_up", name, [("restarts", .int(a.restarts)), ("last_exit", "\(status)")]),
                          .notify("STATUS=\(reason)")]
        }
        a.failures = lifetime >= timing.stableAfter ? 1 : a.failures + 1
        a.restarts += 1
        a.state = .backoff
        agents[name] = a
        let delay = backoff(base: a.spec.restartDelay, failures: a.failures)
        let looping = a.failures >= timing.crashLoopAfter
        out.append(log(looping ? "error" : "warn", looping ? "agent_crash_loop" : "agent_restart_scheduled", name, [
            ("consecutive_failures", .int(a.failures)), ("restarts", .int(a.restarts)), ("delay_ms", .int(delay.milliseconds)),
        ]))
        if looping {
            out.append(.notify("STATUS=agent \(name) is crash-looping: \(a.failures) consecutive failures, last \(status), next try in \(delay.milliseconds) ms"))
        }
        out.append(.schedule(.restart(agent: name, incarnation: a.incarnation), after: delay))
        return out
    }

    private mutating func fire(_ timer: Timer) -> [Action] {
        switch timer {
        case .restart(let name, let incarnation):
            guard !stopping, var a = agents[name], a.incarnation == incarnation, a.state == .backoff else { return [] }
            a.state = .starting
            a.incarnation += 1
            agents[name] = a
            return [.spawn(a.spec)]
        case .kill(let name, let pid):
            guard let a = agents[name], a.pid == pid, a.state == .stopping else { return [] }
            return [log("warn", "agent_stop_timeout", name, [("agent_pid", .int(pid))]), .signal(pid: pid, Self.sigkill)]
        case .stable(let name, let incarnation):
            guard var a = agents[name], a.incarnation == incarnation, a.state == .running, a.failures > 0 else { return [] }
            let failures = a.failures
            a.failures = 0
            agents[name] = a
            return [log("info", "agent_recovered", name, [("agent_pid", a.pid.map { Logger.MetadataValue.int($0) } ?? ""), ("after_failures", .int(failures))]),
                    .notify("STATUS=agent \(name) recovered after \(failures) consecutive failures")]
        }
    }

    private func finishIfStopped() -> [Action] {
        guard stopping, pids.isEmpty else { return [] }
        return [.allStopped]
    }

    private func log(_ level: String, _ event: String, _ name: String, _ fields: [(String, Logger.MetadataValue)]) -> Action {
        .log(LogEntry(level, event, [("agent", .string(name))] + fields))
    }
}

extension Duration {
    /// Whole milliseconds, for logs.
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
