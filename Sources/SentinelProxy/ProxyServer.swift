public import Logging
public import NIOCore
import NIOPosix
import SentinelPolicy
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The HTTP/1.1 data-plane server: binds the snapshot's listeners, serves builtin routes, swaps
/// snapshots on reload and drains on shutdown.
///
/// It exists as the one owner of the event loops, listening channels and the quiescing helper,
/// so the lifecycle (start → reload* → shutdown) has a single place with a single lock.
public final class ProxyServer: Sendable {
    /// Pending-write bounds of client and upstream connections: reading the other side pauses
    /// above `high` bytes buffered and resumes below `low`. One upstream read (at most 64 KiB)
    /// plus a head fits under `high`, so a response of that size is forwarded without pausing
    /// the upstream (NIO's default, 64 KiB, paused and resumed it — two epoll_ctl calls — on
    /// every 64 KiB response). Per connection, buffered bytes stay below `high` plus one read.
    static let writeWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 64 * 1024, high: 128 * 1024)

    /// Reads per readiness event on client and upstream connections. NIO keeps as many receive
    /// buffers per channel as this (up to 64 KiB each, held while a forwarded slice of one is
    /// unsent): its default of 4 let 64 connections streaming 64 KiB responses hold about 16 MiB
    /// of receive buffers. Two still read a 64 KiB body and its tail in one event.
    static let maxMessagesPerRead: UInt = 2

    /// A bound listener and the port the kernel actually gave it (useful with port 0).
    public struct BoundListener: Sendable, Equatable {
        public var id: String
        public var host: String
        public var port: Int
    }

    struct Running: Sendable {
        let group: MultiThreadedEventLoopGroup
        var listeners: [any Channel]
        let shared: ServerShared
        let logBuffers: [(loop: any EventLoop, buffer: NIOLoopBound<AccessLogBuffer>)]
        var checker: HealthChecker
        var generation: UInt64
        /// The reactors serving the data listeners (`data-path "reactor"`); nil on NIO.
        var plane: ReactorDataPlane? = nil
    }

    /// Connection pools of the agents (made with the first snapshot that has agents; kept across reloads).
    let agentRegistry = Mutex<AgentRegistry?>(nil)
    let agentLogger: Logger?
    let eventLoopCount: Int
    let clock: ServerClock
    let running = Mutex<Running?>(nil)
    public let metrics: MetricsRegistry
    /// Health, passive ejection and breakers of every upstream target; survives reloads.
    public let health: UpstreamHealth
    /// Instance-wide `metrics`/`status` answers (a `sentinel-stack` worker); nil: this process alone.
    let instanceView: (any InstanceView)?
    /// Whether this process runs the active health checks (a `sentinel-stack` worker other than
    /// the designated prober receives the verdicts instead).
    let runsHealthChecks: Bool
    /// Called with every active probe result this process obtains (to share it with other workers).
    let onProbe: (@Sendable (_ upstream: String, _ target: String, _ success: Bool) -> Void)?

    /// - Parameters:
    ///   - logger: logs every upstream health or breaker transition.
    ///   - log: instead of `logger`, receives each transition's JSON line (tests).
    public init(
        eventLoopCount: Int = System.coreCount, clock: ServerClock = .system, metrics: MetricsRegistry = .init(),
        logger: Logger? = nil, log: (@Sendable (String) -> Void)? = nil, instanceView: (any InstanceView)? = nil,
        runsHealthChecks: Bool = true, onProbe: (@Sendable (_ upstream: String, _ target: String, _ success: Bool) -> Void)? = nil
    ) {
        self.instanceView = instanceView
        self.runsHealthChecks = runsHealthChecks
        self.onProbe = onProbe
        self.eventLoopCount = max(1, eventLoopCount)
        self.clock = clock
        self.metrics = metrics
        metrics.rateLimits.setLogger(logger)
        metrics.geo.setLogger(logger)
        agentLogger = log.map { Logger.sentinel(role: "proxy", output: .lines($0)) } ?? logger
        if let log {
            health = UpstreamHealth(metrics: metrics, log: log)
        } else {
            health = UpstreamHealth(metrics: metrics, logger: logger)
        }
    }

    /// Monotonic time as `UpstreamHealth` and `TargetSelector` take it.
    public var now: Duration { .nanoseconds(Int64(clamping: clock.monotonicNanos())) }

    /// Marks every upstream of `snapshot` with `generation`, so per-loop balancers notice a reload,
    /// and with its targets' metric slots (assigned by `health.configure` before this).
    static func stamp(_ snapshot: ServerSnapshot, generation: UInt64, metrics: MetricsRegistry) -> ServerSnapshot {
        var s = snapshot
        metrics.tls.serve(snapshot)
        metrics.rateLimits.install(snapshot.rateLimiters, redis: snapshot.redisRateLimiters)
        snapshot.rateLimitEvents.attach(metrics.rateLimits)
        metrics.geo.install(snapshot.geoSources)
        // Stamped on a copy and stored once: every store re-resolves the snapshot's routes.
        var upstreams = s.upstreams
        for i in upstreams.indices {
            upstreams[i].generation = generation
            let id = upstreams[i].id
            upstreams[i].metricSlots = upstreams[i].targetAddresses.map { metrics.slot(upstream: id, target: $0) }
        }
        s.upstreams = upstreams
        return s
    }

    /// Binds every listener of `snapshot` and starts serving. Throws if already started or if a bind fails
    /// (then nothing stays bound). With `accepting: false` the listeners are registered but not
    /// polled until `startAccepting()`: a worker of `sentinel-stack` waits for the previous
    /// generation's worker on the same inherited socket to stop polling it first.
    public func start(snapshot: ServerSnapshot, accepting: Bool = true) async throws -> [BoundListener] {
        health.configure(snapshot.upstreams, now: now)
        bindAgents(snapshot)
        let snapshot = Self.stamp(snapshot, generation: 1, metrics: metrics)
        if snapshot.dataPath == .reactor { return try await startReactors(snapshot: snapshot, accepting: accepting) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: eventLoopCount)
        let shared = ServerShared(snapshot: snapshot, metrics: metrics, clock: clock, health: health, instanceView: instanceView)
        let health = self.health
        let metrics = self.metrics
        var caches: [ObjectIdentifier: NIOLoopBoundBox<[RouteCache]>] = [:]
        var poolBoxes: [ObjectIdentifier: NIOLoopBound<UpstreamPool>] = [:]
        var logBoxes: [ObjectIdentifier: NIOLoopBound<AccessLogBuffer>] = [:]
        var logList: [(loop: any EventLoop, buffer: NIOLoopBound<AccessLogBuffer>)] = []
        let clock = self.clock
        do {
            try shared.openAccessLog(for: snapshot)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        for loop in group.makeIterator() {
            let sets = snapshot.routeSets.count + 1
            let box = try await loop.submit {
                NIOLoopBoundBox((0..<sets).map { _ in RouteCache(capacity: snapshot.routeCacheSize) }, eventLoop: loop)
            }.get()
            caches[ObjectIdentifier(loop)] = box
            poolBoxes[ObjectIdentifier(loop)] = try await loop.submit {
                NIOLoopBound(
                    UpstreamPool(
                        eventLoop: loop, clock: clock, selector: TargetSelector(health: health, metrics: metrics),
                        tlsMetrics: metrics.upstreamTLS),
                    eventLoop: loop)
            }.get()
            let logBox = try await loop.submit { NIOLoopBound(AccessLogBuffer(eventLoop: loop), eventLoop: loop) }.get()
            logBoxes[ObjectIdentifier(loop)] = logBox
            logList.append((loop, logBox))
        }
        let routeCaches = caches
        let pools = poolBoxes
        let logs = logBoxes
        var bound: [BoundListener] = []
        var listenerChannels: [any Channel] = []
        do {
            for listener in snapshot.listeners {
                let listenerID = listener.id
                let bootstrap = ServerBootstrap(group: group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .serverChannelOption(.backlog, value: 1024)
                    .serverChannelOption(.autoRead, value: accepting)
                    .childChannelInitializer { channel in
                        guard shared.admit(channel, max: shared.snapshot.limits.maxConnections) else {
                            channel.close(promise: nil)
                            return channel.eventLoop.makeSucceededVoidFuture()
                        }
                        return channel.eventLoop.makeCompletedFuture {
                            // Set here, synchronously: as bootstrap child options each one costs
                            // a chain of futures per accepted connection (≈ 8 % of user time
                            // with a new connection per request).
                            // TCP_NODELAY is inherited from the listening socket (NIO sets it
                            // there; `acceptedConnectionsHaveNoDelay` checks the accepted end).
                            if let options = channel.syncOptions {
                                try options.setOption(.writeBufferWaterMark, value: Self.writeWaterMark)
                                try options.setOption(.maxMessagesPerRead, value: Self.maxMessagesPerRead)
                            }
                            let cache = routeCaches[ObjectIdentifier(channel.eventLoop)]!
                            let pool = pools[ObjectIdentifier(channel.eventLoop)]!.value
                            let log = logs[ObjectIdentifier(channel.eventLoop)]!.value
                            let snapshot = shared.snapshot
                            let connection = ProxyConnectionHandler(
                                shared: shared, listenerID: listenerID, routeCache: cache, pool: pool, accessLog: log)
                            // PROXY protocol: the header comes before anything else, TLS included.
                            if snapshot.listener(id: listenerID)?.proxyProtocol == true {
                                try channel.pipeline.syncOperations.addHandler(
                                    ProxyProtocolHandler(policy: snapshot.forwarding, metrics: metrics.proxyProtocol, connection: connection))
                            }
                            // HTTPS: the engine in front, with the contexts of the snapshot
                            // current at accept (a reload's new certificate serves new connections).
                            if let tls = snapshot.listener(id: listenerID)?.tls {
                                try channel.pipeline.syncOperations.addHandler(
                                    TLSServerHandler(
                                        tls: tls, listenerID: listenerID, metrics: metrics.tls,
                                        gate: (metrics.tls.handshakes, snapshot.limits.maxTLSHandshakes)))
                            }
                            try channel.pipeline.syncOperations.addHandler(connection)
                        }
                    }
                let channel: any Channel
                if let fd = listener.inheritedFD {
                    channel = try await bootstrap.withBoundSocket(fd).get()
                    // withBoundSocket listens again with NIO's default backlog (128); restore ours.
                    _ = listen(fd, 1024)
                } else {
                    do {
                        channel = try await bootstrap.bind(host: listener.host, port: listener.port).get()
                    } catch {
                        // NIO's own text names its internal call, not the listener or address.
                        throw ProxyServerError.cannotBind(listener: listener.id, host: listener.host, port: listener.port, error)
                    }
                }
                listenerChannels.append(channel)
                bound.append(BoundListener(id: listener.id, host: listener.host, port: channel.localAddress?.port ?? listener.port))
            }
        } catch {
            for channel in listenerChannels { try? await channel.close() }
            try? await group.shutdownGracefully()
            throw error
        }
        let checker = HealthChecker(upstreams: snapshot.upstreams, eventLoop: group.next(), health: health, clock: clock, onResult: onProbe)
        let installed = running.withLock { state -> Bool in
            guard state == nil else { return false }
            state = Running(
                group: group, listeners: listenerChannels, shared: shared, logBuffers: logList, checker: checker, generation: 1)
            return true
        }
        guard installed else {
            try? await group.shutdownGracefully()
            throw ProxyServerError.alreadyStarted
        }
        if runsHealthChecks { checker.start() }
        return bound
    }

    /// Makes `snapshot` current: requests whose head arrives afterwards use it; in-flight requests
    /// finish with the one they started with. Listener addresses are not re-bound.
    /// Upstream health state carries over for targets that still exist; health checks restart with
    /// the new settings. Fails (and changes nothing) when the new snapshot's access log cannot be opened.
    public func reload(snapshot: ServerSnapshot) throws {
        guard let shared = running.withLock({ $0?.shared }) else { return }
        try shared.openAccessLog(for: snapshot)
        let now = self.now
        let old = running.withLock { state -> HealthChecker? in
            guard var s = state else { return nil }
            s.generation += 1
            health.configure(snapshot.upstreams, now: now)
            bindAgents(snapshot)
            let next = Self.stamp(snapshot, generation: s.generation, metrics: metrics)
            let previous = s.checker
            s.checker = HealthChecker(upstreams: next.upstreams, eventLoop: s.group.next(), health: health, clock: clock, onResult: onProbe)
            s.shared.swap(next)
            if runsHealthChecks { s.checker.start() }
            state = s
            return previous
        }
        _ = old?.stop()
    }

    /// Starts polling the listeners of a server started with `accepting: false`.
    public func startAccepting() async {
        if let plane = running.withLock({ $0?.plane }) { return await plane.setAccepting(true) }
        guard let listeners = running.withLock({ $0?.listeners }) else { return }
        for channel in listeners { try? await channel.setOption(.autoRead, value: true).get() }
    }

    /// Closes the listeners (no more accepts; this process stops polling the sockets) and keeps
    /// serving the connections it has, including every connection it already accepted.
    /// `shutdown` does this first anyway.
    ///
    /// Not a plain close: NIO sets an accepted connection up on its own event loop and hands it
    /// back to the listener's loop, and drops it there when the listener closed in between (the
    /// client sees its connection closed without an answer: about 20 per 10 reloads under
    /// `Connection: close` load with several event loops). So the listeners first stop reading,
    /// then one task on every event loop and one on each listener's loop let the hand-backs
    /// already under way arrive, and only then do the listeners close.
    public func stopAccepting() async {
        if let plane = running.withLock({ $0?.plane }) { return await plane.setAccepting(false) }
        guard let (listeners, group) = running.withLock({ state -> ([any Channel], MultiThreadedEventLoopGroup)? in
            defer { state?.listeners = [] }
            return state.map { ($0.listeners, $0.group) }
        }) else { return }
        await Self.quiesce(listeners, group: group)
    }

    /// Stops `listeners` reading, waits for the connections they accepted to be handed over, closes them.
    static func quiesce(_ listeners: [any Channel], group: MultiThreadedEventLoopGroup) async {
        guard !listeners.isEmpty else { return }
        for channel in listeners { try? await channel.setOption(.autoRead, value: false).get() }
        for loop in group.makeIterator() { try? await loop.submit {}.get() }
        for channel in listeners { try? await channel.eventLoop.submit {}.get() }
        for channel in listeners { try? await channel.close() }
    }

    /// True once a no-op task ran on every event loop (a liveness probe: a wedged loop never
    /// answers); false when the server is not running.
    public func eventLoopsRespond() async -> Bool {
        guard let (group, plane) = running.withLock({ s in s.map { ($0.group, $0.plane) } }) else { return false }
        for loop in group.makeIterator() {
            do { try await loop.submit {}.get() } catch { return false }
        }
        if let plane { await plane.onEveryReactor { _ in } }
        return true
    }

    /// Reopens the access log (log rotation: SIGUSR1).
    public func reopenLogs() throws {
        try running.withLock { $0?.shared }?.accessLogFile?.reopen()
    }

    /// Stops accepting, lets in-flight requests finish, closes idle keep-alive connections, then
    /// stops the event loops. Returns false when `gracefulTimeout` passed and connections were forced closed.
    /// Opens, keeps, reconfigures or closes agent pools to match `snapshot`, and binds its
    /// agent handles to them (before the snapshot serves a request).
    func bindAgents(_ snapshot: ServerSnapshot) {
        let registry = agentRegistry.withLock { r -> AgentRegistry? in
            if r == nil, !snapshot.agents.isEmpty { r = AgentRegistry(metrics: metrics.agents, logger: agentLogger) }
            return r
        }
        guard let registry else { return }
        let pools = registry.apply(snapshot.agents.map(\.settings))
        for handle in snapshot.agents { handle.bind(pools[handle.agentID]) }
    }

    /// The pool of agent `id` (tests: wait for its connections).
    public func agentPool(_ id: String) -> AgentPool? { agentRegistry.withLock { $0 }?.pool(id) }

    public func shutdown(gracefulTimeout: Duration) async -> Bool {
        guard let state = running.withLock({ s -> Running? in defer { s = nil }; return s }) else { return true }
        defer { agentRegistry.withLock { r in r?.shutdown(); r = nil } }
        if let plane = state.plane { return await shutdownReactors(state, plane: plane, gracefulTimeout: gracefulTimeout) }
        let loop = state.group.next()
        try? await state.checker.stop().get()
        await Self.quiesce(state.listeners, group: state.group)
        let drained = loop.makePromise(of: Void.self)
        state.shared.beginDrain(promise: drained)
        let forced = Mutex(false)
        let deadline = loop.scheduleTask(in: gracefulTimeout.timeAmount) {
            forced.withLock { $0 = true }
            state.shared.closeAllConnections()
        }
        try? await drained.futureResult.get()
        deadline.cancel()
        for (loop, buffer) in state.logBuffers {
            try? await loop.submit { buffer.value.flush() }.get()
        }
        try? await state.group.shutdownGracefully()
        return !forced.withLock { $0 }
    }
}

/// Lifecycle misuse of `ProxyServer`.
public struct ProxyServerError: Error, Sendable, Equatable, CustomStringConvertible {
    private enum Kind: Sendable, Equatable {
        case alreadyStarted
        case cannotBind(listener: String, address: String, errno: Int32?, detail: String)
    }
    private let kind: Kind
    public static let alreadyStarted = ProxyServerError(kind: .alreadyStarted)

    /// A listener's address could not be bound: says which listener and address, why (the
    /// system's words), and what to do about it.
    static func cannotBind(listener: String, host: String, port: Int, _ error: any Error) -> ProxyServerError {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        if let io = error as? IOError {
            return ProxyServerError(kind: .cannotBind(listener: listener, address: address, errno: io.errnoCode, detail: ""))
        }
        return ProxyServerError(kind: .cannotBind(listener: listener, address: address, errno: nil, detail: "\(error)"))
    }

    public var description: String {
        switch kind {
        case .alreadyStarted:
            return "the proxy server is already running"
        case .cannotBind(let listener, let address, let code, let detail):
            guard let code else { return "listener \"\(listener)\" cannot listen on \(address): \(detail)" }
            let reason = String(cString: strerror(code))
            let hint: String
            switch code {
            case EADDRINUSE:
                hint = "another process (or another Sentinel) is listening there; stop it, or change the listener's address"
            case EACCES:
                hint = "ports below 1024 need privileges: run as root with user/group set, grant CAP_NET_BIND_SERVICE, or use sentinel-stack"
            case EADDRNOTAVAIL:
                hint = "no network interface of this machine has that address; use one it has, or 0.0.0.0 / [::]"
            default:
                hint = "check the listener's address"
            }
            return "listener \"\(listener)\" cannot listen on \(address): \(reason) (errno \(code)); \(hint)"
        }
    }
}
