import Dispatch
import SentinelConfig
import NIOCore
import SentinelObservability
import SentinelProxy
import SentinelRuntime

#if canImport(Glibc)
import Glibc
import Logging
#endif

/// Runs the data plane in this process until a stop signal.
///
/// Signals become events on one stream, handled by one loop: HUP reloads (all-or-nothing: a
/// bad configuration changes nothing and is logged with every diagnostic), TERM and INT stop
/// gracefully (a second one stops at once).
struct SingleProcess {
    let source: ConfigSource
    let initial: SentinelConfiguration

    enum Event: Sendable { case reload, reopenLogs, stop(signal: Int32) }

    func run() async throws {
        // Lifecycle events as JSON lines on stderr (the same logger as sentinel-stack's processes).
        let logging = initial.observability.logging
        let log = Logger.sentinel(
            role: "sentinel", level: JSONLogHandler.level(named: logging.level.rawValue), timestamps: logging.timestamps)
        if let dir = initial.system.workingDirectory, chdir(dir) != 0 {
            log.emit("error", "startup_failed", ["reason": "cannot change to working-directory \(dir): \(String(cString: strerror(errno)))"])
            throw ExitCodeError(code: 1)
        }
        if let pidFile = initial.system.pidFile {
            let text = "\(getpid())\n"
            let fd = open(pidFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0, text.withCString({ write(fd, $0, strlen($0)) }) >= 0 else {
                log.emit("error", "startup_failed", ["reason": "cannot write pid-file \(pidFile): \(String(cString: strerror(errno)))"])
                throw ExitCodeError(code: 1)
            }
            close(fd)
        }
        defer { if let pidFile = initial.system.pidFile { unlink(pidFile) } }
        var rng = SystemRandomNumberGenerator()
        let instanceID = TraceID.generate(format: .uuid, unixSeconds: 0, using: &rng)
        let process = ProcessIdentity.current()
        let snapshot: ServerSnapshot
        do {
            snapshot = try SnapshotBuilder.build(initial, instanceID: instanceID, process: process)
        } catch {
            log.emit("error", "startup_failed", ["reason": .string(error.description)])
            throw ExitCodeError(code: 1)
        }
        let threads = initial.system.workerThreads == 0 ? System.coreCount : initial.system.workerThreads
        // Signals are captured before any listener is bound: a SIGTERM that arrives as soon as the
        // first port is announced must drain, not kill the process with the default action.
        let (events, continuation) = AsyncStream.makeStream(of: Event.self)
        let sources = Self.installSignalHandlers(continuation)
        let reloads = ReloadMetrics()
        let server = ProxyServer(eventLoopCount: threads, metrics: MetricsRegistry(reload: reloads), logger: log)
        let bound: [ProxyServer.BoundListener]
        do {
            bound = try await server.start(snapshot: snapshot)
        } catch {
            // Both causes describe themselves: a listener that cannot be bound (which one, which
            // address, what to do) or an access log that cannot be opened.
            log.emit("error", "startup_failed", ["reason": "\(error)"])
            _ = await server.shutdown(gracefulTimeout: .zero)
            throw ExitCodeError(code: 1)
        }
        for b in bound {
            log.emit("info", "listener_bound", ["listener": .string(b.id), "address": "\(b.host):\(b.port)"])
        }
        log.emit("info", "started", ["config": .string(source.description), "event_loops": .int(threads), "version": .string(SentinelVersion.full)])

        defer { sources.forEach { $0.cancel() } }
        // One ticket-key ring for every HTTPS listener of the process, across reloads; hourly rotation.
        let rotation = process.ticketKeys.map { TicketKeyRotation.start($0) }
        defer { rotation?.cancel() }

        var current = initial
        var currentSnapshot = snapshot
        var stopping = false
        for await event in events {
            switch event {
            case .reload:
                guard !stopping else { continue }
                log.emit("info", "reload_started", ["config": .string(source.description)])
                switch source.load() {
                case .failure(let error):
                    reloads.failed()
                    log.emit("error", "reload_failed", ["reason": "invalid configuration; the running one is unchanged", "diagnostics": .string(error.rendered())])
                case .success(let loaded):
                    do {
                        let next = try SnapshotBuilder.build(loaded.config, instanceID: instanceID, process: process)
                        if next.listeners.map({ "\($0.host):\($0.port)" }) != currentSnapshot.listeners.map({ "\($0.host):\($0.port)" }) {
                            reloads.failed()
                            log.emit("error", "reload_failed", ["reason": "listener addresses changed; restart Sentinel (or use sentinel-stack) to rebind; the running configuration is unchanged"])
                            continue
                        }
                        if next.dataPath != currentSnapshot.dataPath {
                            reloads.failed()
                            log.emit("error", "reload_failed", ["reason": "data-path changed; restart Sentinel (or use sentinel-stack, whose reload starts new workers); the running configuration is unchanged"])
                            continue
                        }
                        try server.reload(snapshot: next)
                        current = loaded.config
                        currentSnapshot = next
                        reloads.succeeded()
                        log.emit("info", "reloaded", ["routes": .int(loaded.config.routes.count)])
                    } catch {
                        reloads.failed()
                        log.emit("error", "reload_failed", ["reason": "\(error); the running configuration is unchanged"])
                    }
                }
            case .reopenLogs:
                do {
                    try server.reopenLogs()
                    log.emit("info", "logs_reopened", [:])
                } catch {
                    log.emit("error", "logs_reopen_failed", ["reason": "\(error)"])
                }
            case .stop(let signal):
                if stopping {
                    log.emit("warn", "fast_stop", ["signal": .int(signal)])
                    exit(1)
                }
                stopping = true
                let timeout = current.system.gracefulShutdownTimeout
                log.emit("info", "stopping", ["signal": .int(signal), "graceful_timeout_secs": .int(timeout.components.seconds)])
                Task { [server] in
                    let clean = await server.shutdown(gracefulTimeout: timeout)
                    log.emit(clean ? "info" : "warn", "stopped", ["clean": .bool(clean)])
                    exit(clean ? 0 : 1)
                }
            }
        }
    }

    static func installSignalHandlers(_ continuation: AsyncStream<Event>.Continuation) -> [any DispatchSourceSignal] {
        let queue = DispatchQueue(label: "sentinel.signals")
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            let event: Event = sig == SIGHUP ? .reload : sig == SIGUSR1 ? .reopenLogs : .stop(signal: sig)
            let handler: @Sendable () -> Void = {
                continuation.yield(event)
            }
            source.setEventHandler(handler: handler)
            source.resume()
            sources.append(source)
        }
        return sources
    }
}

struct ExitCodeError: Error {
    var code: Int32
}
