import NIOCore
import NIOPosix

/// `ProxyServer` on the reactor data path (`system { data-path "reactor" }`): the listeners are
/// served by `ReactorDataPlane`'s reactors, one per worker thread; the NIO group keeps one
/// thread for the control side (active health checks). Reload, accept hand-over, drain and the
/// access log behave as on the NIO path.
extension ProxyServer {
    func startReactors(snapshot: ServerSnapshot, accepting: Bool) async throws -> [BoundListener] {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let shared = ServerShared(snapshot: snapshot, metrics: metrics, clock: clock, health: health, instanceView: instanceView)
        let plane: ReactorDataPlane
        let bound: [BoundListener]
        do {
            try shared.openAccessLog(for: snapshot)
            let listeners = try ReactorDataPlane.bindListeners(snapshot)
            bound = listeners.map { BoundListener(id: $0.listener.id, host: $0.listener.host, port: $0.port) }
            do {
                plane = try ReactorDataPlane.start(count: eventLoopCount, listeners: listeners, shared: shared, health: health)
            } catch {
                for entry in listeners where entry.owned { _ = close(entry.fd) }
                throw error
            }
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let checker = HealthChecker(upstreams: snapshot.upstreams, eventLoop: group.next(), health: health, clock: clock, onResult: onProbe)
        let installed = running.withLock { state -> Bool in
            guard state == nil else { return false }
            state = Running(
                group: group, listeners: [], shared: shared, logBuffers: [], checker: checker, generation: 1, plane: plane)
            return true
        }
        guard installed else {
            _ = await plane.drain(grace: .zero)
            try? await group.shutdownGracefully()
            throw ProxyServerError.alreadyStarted
        }
        if runsHealthChecks { checker.start() }
        if accepting { await plane.setAccepting(true) }
        return bound
    }

    func shutdownReactors(_ state: Running, plane: ReactorDataPlane, gracefulTimeout: Duration) async -> Bool {
        try? await state.checker.stop().get()
        let clean = await plane.drain(grace: gracefulTimeout)
        plane.flushAccessLogs()
        try? await state.group.shutdownGracefully()
        return clean
    }
}
