import Dispatch
import NIOCore
import SentinelPolicy
import SentinelReactor
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What every connection of one reactor shares, as the NIO path keeps them per event loop: the
/// route caches, the upstream pool (its balancer state, fast random source and date cache), the
/// access-log buffer, and the loop itself. Created on the reactor's thread, used only there.
final class ReactorLoopServices {
    weak var reactor: Reactor?
    let loop: ReactorEventLoop
    let routeCache: NIOLoopBoundBox<[RouteCache]>
    let pool: UpstreamPool
    let accessLog: AccessLogBuffer
    let allocator = ByteBufferAllocator()

    init(reactor: Reactor, loop: ReactorEventLoop, snapshot: ServerSnapshot, shared: ServerShared, health: UpstreamHealth) {
        self.reactor = reactor
        self.loop = loop
        let sets = snapshot.routeSets.count + 1
        routeCache = NIOLoopBoundBox((0..<sets).map { _ in RouteCache(capacity: snapshot.routeCacheSize) }, eventLoop: loop)
        // Upstream connections are endpoints of the client connections' sessions, idle ones
        // parked with this reactor (ReactorUpstreamTransport).
        pool = UpstreamPool(
            transport: ReactorUpstreamTransport(reactor: reactor), clock: shared.clock,
            selector: TargetSelector(health: health, metrics: shared.metrics), tlsMetrics: shared.metrics.upstreamTLS)
        accessLog = AccessLogBuffer(eventLoop: loop)
    }
}

/// Client connections open on a process's reactors: `max-connections` and the connections gauge.
final class ReactorConnectionCount: Sendable {
    let shared: ServerShared
    private let open = Atomic<Int>(0)

    init(shared: ServerShared) { self.shared = shared }

    var current: Int { open.load(ordering: .relaxed) }

    /// Counts a new connection unless `max-connections` is reached.
    func admit() -> Bool {
        let max = shared.snapshot.limits.maxConnections
        guard open.wrappingAdd(1, ordering: .relaxed).newValue <= max else {
            open.wrappingSubtract(1, ordering: .relaxed)
            shared.metrics.connectionRejected()
            return false
        }
        shared.metrics.connectionOpened()
        return true
    }

    func closed() {
        open.wrappingSubtract(1, ordering: .relaxed)
        shared.metrics.connectionClosed()
    }
}

/// The data path on Sentinel's own reactors (`system { data-path "reactor" }`): one reactor
/// thread per configured worker thread, each accepting on every listener socket (the kernel
/// hands each connection to one of them) and running `HTTP1ReactorDriver`s. The process's
/// SwiftNIO group stays for the control side (health checks, the control socket, the metrics
/// listener): see docs/architecture.md, "Own reactor (issue 13)".
///
/// Shares `ServerShared` with the NIO path: a reload is the same snapshot swap (a connection
/// picks the new snapshot up between requests), metrics and the access-log file are the same.
final class ReactorDataPlane: Sendable {
    struct Started: Sendable {
        let handle: ReactorHandle
        let loop: ReactorEventLoop
        /// The reactor's services: touched only on its thread, and after it ended (`flushAccessLogs`).
        let services: UncheckedServices
    }

    /// Carries a reactor's services out of its thread for the end of the process.
    struct UncheckedServices: @unchecked Sendable {
        let value: ReactorLoopServices
    }

    let reactors: [Started]
    /// Listener sockets this process bound itself (closed at the end); inherited ones are the master's.
    let ownedFDs: [Int32]
    let connections: ReactorConnectionCount

    private init(reactors: [Started], ownedFDs: [Int32], connections: ReactorConnectionCount) {
        self.reactors = reactors
        self.ownedFDs = ownedFDs
        self.connections = connections
    }

    /// Listener sockets for `snapshot`: the inherited descriptor, or a new non-blocking socket
    /// bound to the listener's address. Throws `ProxyServerError.cannotBind` naming the listener.
    static func bindListeners(_ snapshot: ServerSnapshot) throws -> [(listener: ServerSnapshot.Listener, fd: Int32, owned: Bool, port: Int)] {
        var out: [(listener: ServerSnapshot.Listener, fd: Int32, owned: Bool, port: Int)] = []
        do {
            for l in snapshot.listeners {
                if let fd = l.inheritedFD {
                    let port = (try? Sockets.localAddress(fd).port) ?? l.port
                    out.append((l, fd, false, port))
                    continue
                }
                guard let address = SentinelReactor.SocketAddress(host: l.host == "localhost" ? "127.0.0.1" : l.host, port: l.port) else {
                    throw ProxyServerError.cannotBind(listener: l.id, host: l.host, port: l.port, ReactorBindError(detail: "not a numeric address"))
                }
                do {
                    let fd = try Sockets.listen(on: address, backlog: 1024)
                    let port = (try? Sockets.localAddress(fd).port) ?? l.port
                    out.append((l, fd, true, port))
                } catch {
                    throw ProxyServerError.cannotBind(listener: l.id, host: l.host, port: l.port, IOError(errnoCode: error.errno, reason: "bind"))
                }
            }
        } catch {
            for entry in out where entry.owned { close(entry.fd) }
            throw error
        }
        return out
    }

    /// Starts `count` reactors serving `listeners`. Accepting starts off (`setAccepting`).
    static func start(
        count: Int, listeners: [(listener: ServerSnapshot.Listener, fd: Int32, owned: Bool, port: Int)], shared: ServerShared,
        health: UpstreamHealth
    ) throws -> ReactorDataPlane {
        let connections = ReactorConnectionCount(shared: shared)
        var started: [Started] = []
        let entries = listeners.map { (id: $0.listener.id, fd: $0.fd, host: $0.listener.host, port: $0.port) }
        do {
            for _ in 0..<max(1, count) {
                let ready = DispatchSemaphore(value: 0)
                let loopBox = Mutex<(ReactorEventLoop, UncheckedServices)?>(nil)
                let handle = try ReactorHandle.start(ReactorConfiguration()) { reactor in
                    let loop = ReactorEventLoop(mailbox: reactor.mailbox)
                    loop.attach(reactor)
                    let services = ReactorLoopServices(
                        reactor: reactor, loop: loop, snapshot: shared.snapshot, shared: shared, health: health)
                    for entry in entries {
                        let listenerID = entry.id
                        let address = (ip: entry.host, port: entry.port)
                        reactor.addListener(fd: entry.fd) { accepted in
                            guard connections.admit() else { return nil }
                            let http = HTTP1ReactorDriver(
                                services: services, shared: shared, listenerID: listenerID, peer: accepted.peer,
                                listenerAddress: address, connections: connections)
                            // HTTPS: the engine under it, with the contexts of the snapshot current
                            // at accept (a reload's new certificate serves new connections).
                            let snapshot = shared.snapshot
                            guard let tls = snapshot.listener(id: listenerID)?.tls else { return http }
                            return try? ReactorTLSServer(
                                tls: tls, inner: http, listenerID: listenerID, metrics: shared.metrics.tls,
                                gate: (shared.metrics.tls.handshakes, snapshot.limits.maxTLSHandshakes))
                        }
                    }
                    loopBox.withLock { $0 = (loop, UncheckedServices(value: services)) }
                    ready.signal()
                }
                ready.wait()
                let (loop, services) = loopBox.withLock { $0! }
                started.append(Started(handle: handle, loop: loop, services: services))
            }
        } catch {
            for s in started { s.handle.stop() }
            throw error
        }
        return ReactorDataPlane(reactors: started, ownedFDs: listeners.filter(\.owned).map(\.fd), connections: connections)
    }

    /// Writes what the reactors' access-log buffers hold (after `drain`: their threads ended).
    func flushAccessLogs() {
        for r in reactors { r.services.value.accessLog.flush() }
    }

    /// Runs `body` on every reactor and waits for all of them.
    func onEveryReactor(_ body: @escaping @Sendable (Reactor) -> Void) async {
        for r in reactors {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let sent = r.handle.send(.run({ reactor in
                    body(reactor)
                    done.resume()
                }))
                if !sent { done.resume() }
            }
        }
    }

    func setAccepting(_ on: Bool) async {
        await onEveryReactor { $0.setAccepting(on) }
    }

    /// Stops accepting, tells every connection to finish (keep-alive grace as on NIO), and waits
    /// for the reactors to end: when their last connection closed, or at `grace` (the rest is
    /// closed then). Returns false when connections had to be cut.
    func drain(grace: Duration) async -> Bool {
        let ms = UInt64(max(0, grace.components.seconds)) * 1000 + UInt64(max(0, grace.components.attoseconds / 1_000_000_000_000_000))
        for r in reactors { r.handle.send(.drain(graceMilliseconds: ms)) }
        var forced = false
        for r in reactors {
            let stats = await withCheckedContinuation { (done: CheckedContinuation<ReactorStats?, Never>) in
                DispatchQueue.global().async {
                    r.handle.join()
                    done.resume(returning: r.handle.finalStats)
                }
            }
            if let stats, stats.sessionsCut > 0 { forced = true }
        }
        for fd in ownedFDs { close(fd) }
        return !forced
    }
}

/// A listener address the reactor cannot bind (not numeric).
struct ReactorBindError: Error, CustomStringConvertible {
    var detail: String
    var description: String { detail }
}
