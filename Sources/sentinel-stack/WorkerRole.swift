import ArgumentParser
import NIOCore
import SentinelConfig
import SentinelMaster
import SentinelProxy
import SentinelRuntime
import SentinelTLS
import SentinelRateLimit

#if canImport(Glibc)
import Glibc
import Logging
import SentinelObservability
#endif

/// `sentinel-stack worker`: the hidden role the master spawns (/proc/self/exe worker).
struct WorkerRole: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Internal: a worker process started by `sentinel-stack up`.", shouldDisplay: false)

    func run() async throws {
        let code = await Worker.run()
        if code != 0 { throw ExitCode(code) }
    }
}

/// A worker: serves the data plane on the master's sockets until told to drain.
///
/// It drains on DRAIN from the master, on SIGTERM/SIGQUIT/SIGINT, and on EOF of its control socket
/// (the master died: nobody would stop or replace this worker, so it finishes what it has and
/// exits rather than serving on unsupervised).
enum Worker {
    enum Event: Sendable { case message(MasterMessage), masterGone, signal(Int32) }

    static func run() async -> Int32 {
        Spawner.nameProcess("sentinel-worker")
        var log = Logger.sentinel(role: "worker")
        // Every way out before READY: the reason goes to the master (its verdict names it), or to
        // the log when there is no master; then a plain exit. Nothing here may trap.
        func fail(_ reason: String) -> Int32 {
            if !WorkerHandover.reportFailure(reason) { log.emit("error", "worker_failed", ["reason": .string(reason)]) }
            return 2
        }
        let handover: WorkerHandover
        let loaded: ConfigLoader.Loaded
        do {
            handover = try WorkerHandover.fromEnvironment()
            // exec-as dropped privileges before exec'ing this role; never serve as anyone else.
            if let drop = try PrivilegeDrop.fromEnvironment() {
                do { try drop.verify() } catch {
                    return fail("refusing to serve: cannot drop privileges to \(drop.user): \(error)")
                }
            }
            switch ConfigLoader.load(text: try handover.readConfig(), file: handover.configPath, host: .stack) {
            case .success(let l): loaded = l
            case .failure(let e): return fail("handed-over configuration: " + e.rendered())
            }
        } catch {
            return fail("\(error)")
        }
        let config = loaded.config
        log = Logger.sentinel(role: "worker", config: config.observability.logging)
        // Every line of this worker (lifecycle and upstream health) says which one it is.
        log[metadataKey: "generation"] = .int(handover.generation)
        log[metadataKey: "slot"] = .int(handover.slot)
        let base = ProcessIdentity.current()
        // The instance's shared buckets (one rate for all workers); without them, this worker's own.
        var region = base.rateLimitRegion
        if let fd = handover.rateLimitFD {
            do { region = try RateLimitRegion.attach(fd: fd) } catch { return fail("\(error)") }
        } else {
            log.emit("warning", "rate_limits_per_worker", ["reason": "the master made no shared rate-limit region"])
        }
        let identity = ProcessIdentity(
            stickyKey: handover.stickyKey.isEmpty ? base.stickyKey : handover.stickyKey, proxyID: base.proxyID, zone: base.zone,
            // Empty until the master's TICKET-KEYS line (its first, before ACCEPT): the same
            // keys in every worker of every generation, rotated by the master.
            ticketKeys: TicketKeyRing(), rateLimitRegion: region)
        let ring = identity.ticketKeys!
        var snapshot: ServerSnapshot
        do {
            snapshot = try SnapshotBuilder.build(config, instanceID: handover.instanceID, process: identity)
        } catch {
            return fail(error.description)
        }
        // One channel per inherited socket: a listener may have more than one (sockets a
        // generation with more workers left behind are served by the slot they map to).
        var served: [ServerSnapshot.Listener] = []
        for l in snapshot.listeners {
            let fds = handover.fds(host: l.host, port: l.port)
            guard !fds.isEmpty else { return fail("no inherited socket for \(l.host):\(l.port)") }
            for fd in fds {
                var copy = l
                copy.inheritedFD = fd
                served.append(copy)
            }
        }
        snapshot.listeners = served
        let threads = config.system.workerThreads > 0 ? config.system.workerThreads : max(1, System.coreCount / max(1, handover.workers))
        // No reload gauges (the master exports them); process_* only in reports to a scrape.
        let metrics = MetricsRegistry(processMetrics: false)
        let cluster = WorkerCluster(metrics: metrics, version: snapshot.version)
        // Slot 0 probes for the whole instance; the master relays its verdicts to every other worker.
        let server = ProxyServer(
            eventLoopCount: threads, metrics: metrics, logger: log, instanceView: cluster,
            runsHealthChecks: handover.slot == 0,
            onProbe: { cluster.send(ClusterWorkerMessage.probe(upstream: $0, target: $1, success: $2).line) })
        do {
            // Not polling yet: the master says ACCEPT once no other generation's worker polls the
            // same sockets (MasterState's accept hand-over).
            _ = try await server.start(snapshot: snapshot, accepting: false)
        } catch {
            return fail("\(error)")
        }

        let (events, continuation) = AsyncStream.makeStream(of: Event.self)
        let link = ControlLink(
            fd: WorkerHandover.controlFD, label: "sentinel.worker.control",
            onLine: { line in
                if case .ping(let seq) = MasterMessage(line: line) {
                    // systemd watchdog: answer once every event loop ran a task (a wedged loop never answers).
                    Task {
                        if await server.eventLoopsRespond() { cluster.send(WorkerMessage.pong(seq).line) }
                    }
                } else if case .ticketKeys(let keys) = MasterMessage(line: line) {
                    // Installed here, in line order: before a following ACCEPT is handled.
                    WorkerTicketKeys.install(keys, into: ring)
                } else if let m = MasterMessage(line: line) { continuation.yield(.message(m)) }
                else if let m = ClusterMasterMessage(line: line) { cluster.received(m) }
            },
            onClose: { continuation.yield(.masterGone) })
        let signals = SignalEvents(signals: [SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1], onSignal: { continuation.yield(.signal($0)) })
        defer { signals.cancel() }
        cluster.attach(link: link, server: server)
        cluster.send(WorkerMessage.ready.line)

        for await event in events {
            let reason: String
            switch event {
            case .message(.reopenLogs), .signal(SIGUSR1):
                do { try server.reopenLogs() } catch { log.emit("error", "logs_reopen_failed", ["reason": "\(error)"]) }
                continue
            case .signal(SIGHUP):
                continue  // reload is the master's job: it starts a new generation
            case .message(.accept):
                await server.startAccepting()
                continue
            case .message(.ping):
                continue  // answered on the link's queue
            case .message(.ticketKeys):
                continue  // installed on the link's queue
            case .message(.drain): reason = "drain"
            case .masterGone: reason = "master_gone"
            case .signal(let sig): reason = "signal \(sig)"
            }
            log.emit("info", "worker_draining", ["reason": .string(reason)])
            // Stop polling the shared sockets first and say so: the next generation's worker of
            // this slot starts accepting only then.
            await server.stopAccepting()
            cluster.send(WorkerMessage.listenersClosed.line)
            let clean = await server.shutdown(gracefulTimeout: config.system.gracefulShutdownTimeout)
            // The final report, before DRAINED: the master folds it into its retired counters at EOF.
            cluster.stop()
            cluster.report()
            cluster.send(WorkerMessage.drained(clean: clean).line)
            return clean ? 0 : 1
        }
        return 0
    }
}
