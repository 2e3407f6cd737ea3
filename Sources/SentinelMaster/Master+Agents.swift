import SentinelConfig

#if canImport(Glibc)
import Glibc
import Logging
import SentinelObservability
#endif

/// What the runner keeps for agent supervision, in one value so the runner itself grows by one
/// property: the state machine, the output readers of live agents, the agent set of each prepared
/// generation (applied when that generation goes live) and the worker side's exit status while
/// agents are still being stopped.
struct AgentHost {
    var state: AgentSupervisor
    var readers: [Int32: [AgentOutputReader]] = [:]
    var pending: [Int: [AgentSpec]] = [:]
    var exitAfterAgents: Int32?

    init(timing: AgentSupervisor.Timing) { state = AgentSupervisor(timing: timing) }
}

/// Inputs of the agent side, delivered through the master's one loop.
enum AgentInput: Sendable {
    case output(agent: String, pid: Int32, stream: String, line: String, truncated: Bool, flow: OutputFlow)
    case timer(AgentSupervisor.Timer)
}

extension Runner {
    /// Expands the agents of a configuration about to become generation `g`; the set is applied
    /// when `g` goes live, so a reload that fails leaves the running agents alone.
    mutating func planAgents(_ config: SentinelConfiguration, generation g: Int, drop: PrivilegeDrop?) -> ControlError? {
        switch AgentSpec.all(in: config, environment: options.environment) {
        case .failure(let error): return error
        case .success(var specs):
            for i in specs.indices { specs[i].credentials = drop }
            agents.pending[g] = specs
            return nil
        }
    }

    /// Starts (or reconfigures) the agents planned for generation `g`, if any are pending.
    mutating func applyAgentPlan(generation g: Int) {
        guard let specs = agents.pending.removeValue(forKey: g) else { return }
        agents.pending = agents.pending.filter { $0.key > g }
        applyAgents(.configure(specs))
    }

    mutating func handleAgent(_ input: AgentInput) {
        switch input {
        case .output(let name, let pid, let stream, let line, let truncated, let flow):
            var fields: [(String, Logger.MetadataValue)] = [("agent", .string(name)), ("agent_pid", .int(pid)), ("stream", .string(stream)), ("line", .string(line))]
            if truncated { fields.append(("truncated", .bool(true))) }
            log.emit(LogEntry("info", "agent_output", fields))
            flow.release()
        case .timer(let timer):
            applyAgents(.timer(timer))
        }
    }

    /// The workers are all gone (`MasterState` decided to exit): stop the agents, then exit.
    mutating func exitAfterAgents(_ code: Int32) {
        agents.exitAfterAgents = code
        if agents.state.pids.isEmpty {
            exitCode = code
            _ = agents.state.handle(.stop, now: now)
            return
        }
        applyAgents(.stop)
    }

    mutating func applyAgents(_ event: AgentSupervisor.Event) {
        var queue = agents.state.handle(event, now: now)[...]
        while let action = queue.popFirst() {
            if let follow = performAgent(action) { queue += agents.state.handle(follow, now: now) }
        }
    }

    private mutating func performAgent(_ action: AgentSupervisor.Action) -> AgentSupervisor.Event? {
        switch action {
        case .spawn(let spec):
            do {
                let launcher = spec.credentials.map {
                    (path: executable, arguments: $0.execArguments(program: spec.command[0], arguments: spec.command))
                }
                let spawned = try AgentProcess.spawn(spec, baseEnvironment: Spawner.workerEnvironment(adding: [:]), launcher: launcher)
                let continuation = self.continuation
                let pid = spawned.pid
                watchAgent(pid, stopTimeout: spec.stopTimeout)
                agents.readers[pid] = [(spawned.stdout, "stdout"), (spawned.stderr, "stderr")].map { fd, stream in
                    AgentOutputReader(fd: fd, label: "sentinel.agent.\(pid).\(stream)") { line, truncated, flow in
                        continuation.yield(.agent(.output(agent: spec.name, pid: pid, stream: stream, line: line, truncated: truncated, flow: flow)))
                    }
                }
                defer { recordAgents(adding: (spec.name, pid)) }
                return .spawned(agent: spec.name, pid: pid)
            } catch {
                return .spawnFailed(agent: spec.name, reason: error.description)
            }
        case .signal(let pid, let sig):
            // To the agent's process group (it leads its own): a wrapper script's children stop
            // with it instead of living on, orphaned, with the agent's pipes. An agent that moved
            // to another group gets the signal alone.
            if kill(-pid, sig) != 0 { kill(pid, sig) }
        case .schedule(let timer, let delay):
            let continuation = self.continuation
            Task {
                try? await Task.sleep(for: delay)
                continuation.yield(.agent(.timer(timer)))
            }
        case .log(let entry):
            log.emit(entry)
        case .notify(let text):
            notifier.notify(text)
        case .allStopped:
            if let code = agents.exitAfterAgents {
                log.emit("info", "agents_stopped")
                exitCode = code
            }
        }
        return nil
    }

    /// A reaped agent: its pipes close by themselves at EOF (the readers flush the last line).
    mutating func agentExited(pid: Int32, status: ExitStatus) -> Bool {
        guard agents.state.pids.contains(pid) else { return false }
        agents.readers.removeValue(forKey: pid)
        applyAgents(.exited(pid: pid, status))
        recordAgents()
        return true
    }

    /// Keeps `agents.pids` in the runtime directory current (see `AgentPidFile`).
    func recordAgents(adding extra: (String, Int32)? = nil) {
        var running = agents.state.order.compactMap { name in agents.state.agents[name]?.pid.map { (name: name, pid: $0) } }
        if let extra { running.append((name: extra.0, pid: extra.1)) }
        AgentPidFile(runtimeDirectory: runtime.path).record(running)
    }

    /// Agents a previous master of this configuration left running (it was SIGKILLed or crashed)
    /// get SIGTERM before this master starts its own.
    func stopLeftoverAgents() {
        for (name, pid) in AgentPidFile(runtimeDirectory: runtime.path).stopLeftovers() {
            log.emit("warn", "stale_agent_stopped", ["agent": .string(name), "agent_pid": .int(pid)])
        }
    }

    /// `agents` of `sentinel-stack status`.
    func agentsJSON() -> JSONValue {
        .array(agents.state.order.compactMap { name in
            guard let a = agents.state.agents[name] else { return nil }
            return .object([
                ("name", .string(name)),
                ("pid", a.pid.map { .number(String($0)) } ?? .null),
                ("state", .string(a.state.rawValue)),
                ("restarts", .number(String(a.restarts))),
                ("consecutive_failures", .number(String(a.failures))),
                ("last_exit", a.lastExit.map { .string($0) } ?? .null),
            ])
        })
    }
}
