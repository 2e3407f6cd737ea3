public import SentinelConfig
import SentinelRateLimit
import SentinelObservability
import Dispatch

#if canImport(Glibc)
import Glibc
import Logging
#endif

/// `sentinel-stack up`: runs the process model until stopped.
///
/// One loop consumes every input (signals, child exits, worker messages, timers, control
/// requests) from one `AsyncStream`, feeds it to `MasterState` and performs the returned
/// actions. Nothing else mutates master state, so no locks and no global mutable state.
public struct Master: Sendable {
    public struct Options: Sendable {
        /// The configuration file (re-read on reload), or the built-in default.
        public var source: ConfigSource
        /// For messages, the status answer and the workers' diagnostics.
        public var configPath: String { source.description }
        /// The binary workers run: this one (`/proc/self/exe`), so workers are the same build.
        public var executable = Spawner.procSelfExe
        /// argv of a worker, argv[0] included.
        public var workerArguments = ["sentinel-stack", "worker"]
        /// argv of the orphan guard's fallback, this binary's `guard` role (`GuardMessage`), used
        /// when no `sentinel-guard` is installed beside the binary; nil runs without a guard.
        public var guardArguments: [String]? = ["sentinel-stack", "guard"]
        public var environment: [String: String]
        /// The addresses a configuration's workers listen on, after checking that the data plane
        /// accepts it (the master does not import the data plane; the executable provides this).
        public var plan: @Sendable (SentinelConfiguration) -> Result<[ListenAddress], ControlError>
        public var timing = MasterState.Timing()
        public var agentTiming = AgentSupervisor.Timing()

        public init(configPath: String, environment: [String: String], plan: @escaping @Sendable (SentinelConfiguration) -> Result<[ListenAddress], ControlError>) {
            self.init(source: .file(configPath), environment: environment, plan: plan)
        }

        public init(source: ConfigSource, environment: [String: String], plan: @escaping @Sendable (SentinelConfiguration) -> Result<[ListenAddress], ControlError>) {
            self.source = source
            self.environment = environment
            self.plan = plan
        }
    }

    enum Input: Sendable {
        case signal(Int32)
        case childExited(Int32, ExitStatus)
        case worker(Int32, WorkerMessage)
        case timer(MasterState.Timer)
        case control(ControlRequest, ControlConnection)
        case agent(AgentInput)
        /// Instance-wide view (metrics reports, builtin pulls, health verdicts): see Master+Cluster.
        case cluster(Int32, ClusterWorkerMessage)
        /// A worker's control socket reached EOF: its last report is final.
        case linkClosed(Int32)
        case pullExpired(Int32, UInt64)
        /// A worker's exit still waits for its link's EOF: apply it now.
        case exitFallback(Int32)
        /// Start a new orphan guard after the previous one died young.
        case restartGuard
        /// systemd watchdog period elapsed (see `WatchdogState`).
        case watchdogTick
        /// Time to rotate the session-ticket keys (`TicketKeyMaterial.period`).
        case rotateTicketKeys
    }

    let options: Options

    public init(options: Options) { self.options = options }

    /// Returns the exit status: 0 after a clean stop, 1 otherwise.
    public func run() async -> Int32 {
        let first: ConfigLoader.Expanded
        switch options.source.loadExpanded(host: .stack) {
        case .failure(let error):
            writeAll(error.rendered() + "\n", to: 2)
            Logger.sentinel(role: "master").emit("error", "startup_failed", ["reason": "invalid configuration \(options.configPath)"])
            return 1
        case .success(let expanded): first = expanded
        }
        let log = Logger.sentinel(role: "master", config: first.loaded.config.observability.logging)
        for w in first.loaded.warnings { writeAll(w.description + "\n", to: 2) }
        // First, while fds 3… are still exactly what systemd passed.
        let passed: [SocketActivation.Passed]
        do { passed = try SocketActivation.take() } catch {
            log.emit("error", "startup_failed", ["reason": .string(error.description)])
            return 1
        }
        let runtime = RuntimeDirectory.resolve(source: options.source, environment: options.environment)
        let (inputs, continuation) = AsyncStream.makeStream(of: Input.self)
        let control: ControlServer
        do {
            try runtime.create()
            var running = false
            try? ControlClient.send(.status, socketPath: runtime.socketPath) { _ in running = true }
            if running { throw ControlError("another sentinel-stack master already runs for this configuration (\(runtime.socketPath))") }
            control = try ControlServer(path: runtime.socketPath) { continuation.yield(.control($0, $1)) }
            try writePidFile(runtime.pidPath)
        } catch {
            log.emit("error", "startup_failed", ["reason": "\(error)"])
            return 1
        }
        let signals = SignalEvents(
            signals: [SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1],
            onSignal: { continuation.yield(.signal($0)) },
            onChildExit: { continuation.yield(.childExited($0, $1)) })
        var runner = Runner(options: options, log: log, continuation: continuation, runtime: runtime)
        runner.activation = passed
        log.emit("info", "master_started", [
            "config": .string(options.configPath), "runtime_directory": .string(runtime.path), "version": .string(SentinelVersion.full),
        ])
        runner.stopLeftoverAgents()
        runner.startGuard()
        runner.startWatchdog()
        runner.startTicketKeyRotation()
        runner.startFirst(first)
        var code = runner.exitCode
        if code == nil {
            for await input in inputs {
                if let exit = runner.handle(input) {
                    code = exit
                    break
                }
            }
        }
        runner.disarmGuard()
        signals.cancel()
        control.close()
        unlink(runtime.pidPath)
        return code ?? 1
    }

    func writePidFile(_ path: String) throws(ControlError) {
        let text = "\(getpid())\n"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ControlError("cannot write pid file \(path): \(errorText())") }
        writeAll(text, to: fd)
        close(fd)
    }
}

/// The loop's state and the actions' side effects. Lives on the loop's task only.
struct Runner {
    struct GenerationResources {
        var addresses: [ListenAddress]
        var workers: Int
        var config: ConfigHandover
        /// `system { user; group }` the workers drop to; nil: they keep the master's credentials.
        var drop: PrivilegeDrop?
        var drainTimeout: Duration
    }

    let options: Master.Options
    var log: Logger
    let continuation: AsyncStream<Master.Input>.Continuation
    let runtime: RuntimeDirectory
    let notifier = SystemdNotifier()
    let table = ListenerTable()
    let started = ContinuousClock.now
    let instance: WorkerHandover.Instance
    var state: MasterState
    var resources: [Int: GenerationResources] = [:]
    var links: [Int32: ControlLink] = [:]
    /// Workers whose control link has not reached EOF yet (their last lines may be unread).
    var openLinks: Set<Int32> = []
    /// Exits of workers whose link was still open: applied at its EOF (or after a second), so a
    /// last line such as DRAINED is never overtaken by the exit that follows it.
    var pendingExits: [Int32: ExitStatus] = [:]
    var reloadWaiters: [Int: [ControlConnection]] = [:]
    var cluster = ClusterView()
    /// `sentinel_config_last_reload_*`: a generation going live succeeds, a reload whose
    /// configuration or generation fails does not.
    let reloadMetrics = ReloadMetrics()
    var stopWaiters: [ControlConnection] = []
    var nextGeneration = 1
    var exitCode: Int32?
    var agents: AgentHost
    var guardLink: GuardLink?
    var guardStartedAt: Duration = .zero
    /// graceful-shutdown-timeout-secs of the newest prepared configuration.
    var drainTimeout: Duration = .seconds(30)
    var watchdog = WatchdogState.fromEnvironment()
    /// Session-ticket keys of every worker of every generation (memory only).
    var ticketKeys = TicketKeyMaterial.random()
    /// Sockets systemd passed, adopted by the first generation's `prepare`.
    var activation: [SocketActivation.Passed] = []
    /// The rate limiters' buckets, shared by every worker of every generation (a memory file
    /// made before the first worker): N workers allow a limit's rate once, not N times, and
    /// buckets survive reloads. nil when it cannot be made (each worker then limits on its own,
    /// and says so).
    let rateLimitRegion: RateLimitRegion?

    init(options: Master.Options, log: Logger, continuation: AsyncStream<Master.Input>.Continuation, runtime: RuntimeDirectory) {
        self.options = options
        self.log = log
        self.continuation = continuation
        self.runtime = runtime
        instance = WorkerHandover.Instance.persistent(in: runtime.path)
        do { rateLimitRegion = try RateLimitRegion.createShared() } catch {
            rateLimitRegion = nil
            log.emit(LogEntry("warning", "rate_limit_region_failed", [("reason", "\(error)")]))
        }
        state = MasterState(timing: options.timing)
        agents = AgentHost(timing: options.agentTiming)
        cluster.masterMetrics = { [reloadMetrics] in
            reloadMetrics.render() + (ProcessMetrics.current()?.render(labels: #"role="master""#) ?? "")
        }
    }

    var now: Duration { ContinuousClock.now - started }

    /// The binary children run: this one, by its path when the path still names it (see
    /// `Spawner.selfExecutable`).
    var executable: String {
        options.executable == Spawner.procSelfExe ? Spawner.selfExecutable() : options.executable
    }

    mutating func startFirst(_ expanded: ConfigLoader.Expanded) {
        switch prepare(expanded) {
        case .success(let event):
            // Agents first: the workers' routes may depend on them from their first request.
            if case .prepared(let g, _, _, _) = event { applyAgentPlan(generation: g) }
            apply(event)
        case .failure(let error):
            log.emit("error", "startup_failed", ["reason": "\(error.description)"])
            exitCode = 1
        }
    }

    /// Returns the exit status once the master should exit.
    mutating func handle(_ input: Master.Input) -> Int32? {
        if let exitCode { return exitCode }
        switch input {
        case .signal(let sig):
            switch sig {
            case SIGHUP: reload(client: nil)
            case SIGUSR1:
                for link in links.values { link.send(MasterMessage.reopenLogs.line) }
                log.emit("info", "logs_reopened", ["pids": .ints(links.keys.sorted())])
            default:
                if state.phase == .stopping { applyAgents(.fastStop) }
                apply(.stop(signal: sig))
            }
        case .childExited(let pid, let status):
            if guardExited(pid: pid, status: status) { break }
            forgetChild(pid)
            watchdog?.exited(pid: pid)
            if agentExited(pid: pid, status: status) { break }
            // Not closed here: the link closes itself at EOF, after the worker's last lines were read.
            links.removeValue(forKey: pid)
            if openLinks.contains(pid) {
                // SIGCHLD can be handled before the link's last lines (DRAINED): wait for EOF.
                pendingExits[pid] = status
                let continuation = self.continuation
                Task {
                    try? await Task.sleep(for: .seconds(1))
                    continuation.yield(.exitFallback(pid))
                }
            } else {
                apply(.exited(pid: pid, status))
            }
        case .exitFallback(let pid):
            if let status = pendingExits.removeValue(forKey: pid) { apply(.exited(pid: pid, status)) }
        case .worker(let pid, .pong(let seq)):
            watchdog?.pong(pid: pid, seq: seq)
        case .worker(let pid, let message):
            if message == .ready { sendCluster(cluster.replay(to: pid)) }
            apply(.message(pid: pid, message))
        case .timer(let timer):
            apply(.timer(timer))
        case .cluster(let pid, let message): handleCluster(message, from: pid)
        case .linkClosed(let pid):
            openLinks.remove(pid)
            clusterLinkClosed(pid)
            if let status = pendingExits.removeValue(forKey: pid) { apply(.exited(pid: pid, status)) }
        case .pullExpired(let pid, let id): clusterPullExpired(pid, id: id)
        case .control(let request, let connection):
            switch request {
            case .status:
                connection.reply(statusJSON())
                connection.close()
            case .reload:
                reload(client: connection)
            case .stop:
                connection.reply(#"{"ok":true,"stopping":true}"#)
                stopWaiters.append(connection)
                if state.phase == .stopping { applyAgents(.fastStop) }
                apply(.stop(signal: SIGTERM))
            }
        case .agent(let input):
            handleAgent(input)
        case .watchdogTick:
            watchdogTick()
        case .rotateTicketKeys:
            ticketKeys.rotate()
            for link in links.values { link.send(ticketKeys: ticketKeys) }
            log.emit("info", "ticket_keys_rotated", ["workers": .int(links.count)])
        case .restartGuard:
            if guardLink == nil, state.phase != .stopping { startGuard() }
        }
        return exitCode
    }

    /// Feeds one event to the state machine and performs its actions, including the events those
    /// actions produce (a spawn reports its pid or its failure at once).
    mutating func apply(_ event: MasterState.Event) {
        var queue = state.handle(event, now: now)[...]
        while let action = queue.popFirst() {
            if let follow = perform(action) { queue += state.handle(follow, now: now) }
        }
        releaseIdleSockets()
    }

    /// Closes the listening sockets nothing polls any more and no generation will: every socket
    /// of a live or starting generation's addresses is kept (including the slots a generation
    /// with more workers left behind, which its workers serve: `ListenerTable.listeners`), and of
    /// a draining one only the sockets its still-polling workers hold. So a socket closes when a
    /// reload dropped its address and the old workers stopped polling it, or when a reload that
    /// failed after binding leaves it unused.
    mutating func releaseIdleSockets() {
        var keep = Set<ListenerTable.Key>()
        for g in state.generations {
            guard let r = resources[g.id] else { continue }
            if g.state != .draining {
                keep.formUnion(table.keys(r.addresses, slots: r.workers))
            } else {
                for w in g.workers where w.accepting {
                    keep.formUnion(table.keys(r.addresses, slots: r.workers, slot: w.slot))
                }
            }
        }
        table.retain(keep)
    }

    mutating func perform(_ action: MasterState.Action) -> MasterState.Event? {
        switch action {
        case .spawn(let g, let slot):
            return spawn(generation: g, slot: slot)
        case .send(let pid, let message):
            links[pid]?.send(message.line)
        case .kill(let pid):
            kill(pid, SIGKILL)
        case .schedule(let timer, let delay):
            let continuation = self.continuation
            Task {
                try? await Task.sleep(for: delay)
                continuation.yield(.timer(timer))
            }
        case .log(let entry):
            log.emit(entry)
        case .notify(let text):
            notifier.notify(text)
        case .live(let g):
            reloadMetrics.succeeded()
            applyAgentPlan(generation: g)
            for c in reloadWaiters.removeValue(forKey: g) ?? [] {
                c.reply(#"{"ok":true,"generation":\#(g)}"#)
                c.close()
            }
        case .failed(let g, let reason):
            reloadMetrics.failed()
            for c in reloadWaiters.removeValue(forKey: g) ?? [] {
                c.reply(JSONValue.object([("ok", .bool(false)), ("error", .string(reason))]).serialized())
                c.close()
            }
        case .retired(let g):
            resources.removeValue(forKey: g)
        case .exit(let code):
            exitAfterAgents(code)
        }
        return nil
    }
}
