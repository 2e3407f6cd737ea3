import SentinelConfig

#if canImport(Glibc)
import Glibc
import Logging
import SentinelObservability
#endif

extension Runner {
    /// Plans, binds and hands over a validated configuration as the next generation. Any failure
    /// here happens before a worker exists and changes nothing that serves.
    mutating func prepare(_ expanded: ConfigLoader.Expanded) -> Result<MasterState.Event, ControlError> {
        let config = expanded.loaded.config
        let addresses: [ListenAddress]
        switch options.plan(config) {
        case .failure(let error): return .failure(error)
        case .success(let a): addresses = a
        }
        let drop: PrivilegeDrop?
        switch PrivilegeDrop.resolve(user: config.system.user, group: config.system.group) {
        case .failure(let error): return .failure(error)
        case .success(let d): drop = d
        }
        if let error = planAgents(config, generation: nextGeneration, drop: drop) { return .failure(error) }
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let workers = config.system.workerProcesses ?? max(1, cores)
        do {
            if !activation.isEmpty {
                for (address, p) in try table.adopt(activation, for: addresses) {
                    log.emit(workers > 1 ? "warn" : "info", "socket_activated", [
                        "fd": .int(p.fd), "name": "\(p.name)", "address": "\(address.description)", "workers_sharing": .int(workers),
                    ])
                }
                activation = []
            }
            try table.ensure(addresses, slots: workers)
            let handover = try ConfigHandover(text: expanded.text)
            let id = nextGeneration
            nextGeneration += 1
            resources[id] = GenerationResources(
                addresses: addresses, workers: workers, config: handover, drop: drop, drainTimeout: config.system.gracefulShutdownTimeout)
            drainTimeout = config.system.gracefulShutdownTimeout
            log.emit("info", "generation_prepared", [
                "generation": .int(id), "listeners": .array(addresses.map { .string($0.description) }),
                "sockets": .int(table.count),
            ])
            return .success(.prepared(
                generation: id, workers: workers, drainTimeout: config.system.gracefulShutdownTimeout,
                sharedSockets: addresses.contains(where: table.isActivated)))
        } catch let error as ListenerTable.BindError {
            return .failure(ControlError(error.description))
        } catch {
            return .failure(ControlError("\(error)"))
        }
    }

    /// HUP or `sentinel-stack reload`: a new generation on the same sockets; the verdict goes to
    /// the log, to systemd and to `client`.
    mutating func reload(client: ControlConnection?) {
        func refuse(_ reason: String) {
            log.emit("warn", "reload_refused", ["reason": "\(reason)"])
            client?.reply(JSONValue.object([("ok", .bool(false)), ("error", .string(reason))]).serialized())
            client?.close()
        }
        if state.phase == .stopping { return refuse("the master is stopping") }
        if let pending = state.pendingGeneration { return refuse("generation \(pending) is still starting; retry when it is live") }
        log.emit("info", "reload_started", ["config": "\(options.configPath)", "live_generation": .int(state.liveGeneration ?? 0)])
        notifier.notify(SystemdNotifier.reloading())
        let prepared: Result<MasterState.Event, ControlError>
        var diagnostics = ""
        switch options.source.loadExpanded(host: .stack) {
        case .failure(let error):
            diagnostics = error.rendered()
            prepared = .failure(ControlError("invalid configuration \(options.configPath)"))
        case .success(let expanded):
            prepared = prepare(expanded)
            if case .success = prepared { log = Logger.sentinel(role: "master", config: expanded.loaded.config.observability.logging) }
        }
        switch prepared {
        case .success(let event):
            if case .prepared(let g, _, _, _) = event, let client { reloadWaiters[g, default: []].append(client) }
            apply(event)
        case .failure(let error):
            let reason = error.description + "; generation \(state.liveGeneration ?? 0) keeps serving"
            reloadMetrics.failed()
            log.emit(LogEntry("error", "reload_failed", [("reason", "\(reason)")] + (diagnostics.isEmpty ? [] : [("diagnostics", "\(diagnostics)")])))
            notifier.notify("READY=1\nSTATUS=reload failed: \(error.description)")
            var answer: [(String, JSONValue)] = [("ok", .bool(false)), ("error", .string(reason))]
            if !diagnostics.isEmpty { answer.append(("diagnostics", .string(diagnostics))) }
            client?.reply(JSONValue.object(answer).serialized())
            client?.close()
        }
    }

    /// Spawns one worker of generation `g` in `slot` with its control socketpair.
    mutating func spawn(generation g: Int, slot: Int) -> MasterState.Event {
        guard let r = resources[g] else { return .spawnFailed(generation: g, slot: slot, reason: "generation released") }
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            return .spawnFailed(generation: g, slot: slot, reason: "socketpair: \(errorText())")
        }
        // Per address the slot's socket, and those a generation with more workers left behind.
        let listeners = table.listeners(r.addresses, slot: slot, slots: r.workers)
        let environment = Spawner.workerEnvironment(
            adding: WorkerHandover.environment(
                generation: g, slot: slot, workers: r.workers, configPath: options.configPath, addresses: listeners.map(\.address),
                instance: instance, rateLimitFD: rateLimitRegion.map { _ in WorkerHandover.firstListenerFD + Int32(listeners.count) }).merging(r.drop?.environment ?? [:]) { $1 })
        let pid: pid_t
        do {
            // With system { user }, through `exec-as`, which drops before exec'ing the worker.
            let arguments = r.drop?.execArguments(program: executable, arguments: options.workerArguments) ?? options.workerArguments
            pid = try Spawner.spawn(
                executable: executable, arguments: arguments, environment: environment,
                fds: [pair[1], r.config.fd] + listeners.map(\.fd) + (rateLimitRegion?.fd.map { [$0] } ?? []))
        } catch {
            close(pair[0])
            close(pair[1])
            return .spawnFailed(generation: g, slot: slot, reason: error.description)
        }
        close(pair[1])
        watchWorker(pid, drainTimeout: r.drainTimeout)
        let continuation = self.continuation
        openLinks.insert(pid)
        links[pid] = ControlLink(
            fd: pair[0], label: "sentinel.worker.\(pid)",
            onLine: { line in
                if let message = WorkerMessage(line: line) { continuation.yield(.worker(pid, message)) }
                else if let message = ClusterWorkerMessage(line: line) { continuation.yield(.cluster(pid, message)) }
            },
            onClose: { continuation.yield(.linkClosed(pid)) })
        // First line to the worker: it installs the keys before it reads ACCEPT (lines are
        // handled in order), so it never serves a handshake with keys of its own.
        links[pid]?.send(ticketKeys: ticketKeys)
        return .spawned(generation: g, slot: slot, pid: pid)
    }

    /// The answer to `sentinel-stack status`.
    func statusJSON() -> String {
        let generations: [JSONValue] = state.generations.map { g in
            .object([
                ("generation", .number(String(g.id))),
                ("state", .string(g.state.rawValue)),
                ("workers", .array(g.workers.map { w in
                    .object([
                        ("slot", .number(String(w.slot))),
                        ("pid", w.pid.map { .number(String($0)) } ?? .null),
                        ("ready", .bool(w.ready)),
                        ("restarts", .number(String(w.restarts))),
                    ])
                })),
            ])
        }
        return JSONValue.object([
            ("ok", .bool(true)),
            ("pid", .number(String(getpid()))),
            ("phase", .string(state.phase.rawValue)),
            ("live_generation", state.liveGeneration.map { .number(String($0)) } ?? .null),
            ("config", .string(options.configPath)),
            ("runtime_directory", .string(runtime.path)),
            ("generations", .array(generations)),
            ("agents", agentsJSON()),
            ("guard_pid", guardLink.map { .number(String($0.pid)) } ?? .null),
        ]).serialized()
    }
}
