import NIOCore
import NIOPosix
import SentinelPolicy
import SentinelTLS

/// Keep-alive connections to upstream targets, one pool per event loop.
///
/// Connections are opened on the downstream connection's event loop and only ever used there,
/// so a proxied exchange never hops threads and the pool needs no lock. Bounds: at most
/// `maxConnections` open (active + idle) per target, at most `maxIdle` kept idle, each idle one
/// closed after `idleTimeout`, and none reused past `maxLifetime`.
final class UpstreamPool {
    struct Key: Hashable {
        var upstream: Int
        var target: Int
    }

    struct Limits {
        var maxConnections: Int
        var maxIdle: Int
        var idleTimeout: Duration
        var maxLifetime: Duration?
        var connectTimeout: Duration
    }

    enum AcquireError: Error {
        case poolExhausted
        case connectTimeout
        case connectFailed(any Error)
        /// The TCP connection was made, the TLS handshake failed (certificate, alert, timeout).
        case tlsHandshake(TLSError)
    }

    /// The loop every connection of this pool (and every exchange using it) runs on.
    let eventLoop: any EventLoop
    private let clock: ServerClock
    /// Idle connections per target. The lists are objects so taking and returning a connection
    /// mutates them in place, without the dictionary's modify accessor (which allocated).
    private var idle: [Key: IdleList] = [:]

    final class IdleList {
        var items: [UpstreamConnection] = []
    }

    private func idleList(_ key: Key) -> IdleList {
        if let list = idle[key] { return list }
        let list = IdleList()
        idle[key] = list
        return list
    }
    private var open: [Key: Int] = [:]
    private var sweep: RepeatedTask?
    /// This loop's target selection (balancers filtered by upstream health).
    let selector: TargetSelector

    /// This loop's `Date` field, formatted once per second (local replies, forwarded
    /// responses without one).
    let date: HTTPDateCache

    /// This loop's latest TLS session per target, offered by the next new connection to it.
    let sessions = UpstreamSessionCache()
    /// Counts upstream TLS handshakes (nil: not counted).
    let tlsMetrics: UpstreamTLSMetrics?
    /// Opens channels to targets; nil: TCP sockets (`openSocket`). Tests inject one to drive
    /// exchanges without sockets.
    let connector: (any UpstreamConnector)?

    init(
        eventLoop: any EventLoop, clock: ServerClock, selector: TargetSelector = TargetSelector(),
        connector: (any UpstreamConnector)? = nil, tlsMetrics: UpstreamTLSMetrics? = nil
    ) {
        self.eventLoop = eventLoop
        self.clock = clock
        self.selector = selector
        self.connector = connector
        self.tlsMetrics = tlsMetrics
        date = HTTPDateCache(clock: clock)
    }

    typealias Acquired = Result<(connection: UpstreamConnection, reused: Bool), AcquireError>

    /// A connection to `address`: an idle one if any is still good, else a new one. `done` runs
    /// on this pool's event loop (at once for a reused connection).
    /// A live idle connection to `key`, made active; nil when there is none (the caller then
    /// `acquire`s). Synchronous, so the common case of a reused connection needs no callback.
    /// `tls`: the upstream's current client context (nil: plain); a connection made under
    /// another one (plain before a reload, another CA or client certificate) is not reused.
    func takeIdle(_ key: Key, limits: Limits, now: UInt64, tls: TLSClientContext? = nil) -> UpstreamConnection? {
        // Popped in place: copying the list out of the dictionary and back would copy the array.
        while let candidate = idle[key]?.items.popLast() {
            candidate.markActive()
            // `isBroken` is set when the channel goes inactive (and on any misbehaviour), so it
            // answers what `channel.isActive` would, without NIO's lifecycle lookups.
            if candidate.isBroken || candidate.tlsContext !== tls || expired(candidate, now: now, limits: limits) {
                close(candidate)
                continue
            }
            return candidate
        }
        return nil
    }

    /// `tls`: the upstream's TLS (nil: plain TCP); a new connection is handed over only once its
    /// handshake completed, resuming the target's cached session when there is one.
    func acquire(
        _ key: Key, address: UpstreamAddress, limits: Limits, tls: UpstreamTLS? = nil, fresh: Bool = false, now: UInt64? = nil,
        done: @escaping (Acquired) -> Void
    ) {
        let now = now ?? clock.monotonicNanos()
        if !fresh, let candidate = takeIdle(key, limits: limits, now: now, tls: tls?.context) {
            done(.success((candidate, true)))
            return
        }
        if open[key, default: 0] >= limits.maxConnections {
            done(.failure(.poolExhausted))
            return
        }
        var tlsHandler: NIOLoopBound<TLSClientHandler>?
        if let tls {
            do {
                tlsHandler = NIOLoopBound(try makeTLSHandler(key, tls: tls, handshakeTimeout: limits.connectTimeout), eventLoop: eventLoop)
            } catch {
                done(.failure(.tlsHandshake(error)))
                return
            }
        }
        open[key, default: 0] += 1
        let handler = NIOLoopBound(UpstreamChannelHandler(), eventLoop: eventLoop)
        let connected: EventLoopFuture<any Channel>
        if let connector {
            connected = connector.connect(to: address, limits: limits, eventLoop: eventLoop, handler: handler.value)
        } else {
            connected = openSocket(to: address, limits: limits, handler: handler, tls: tlsHandler)
        }
        let bound = NIOLoopBound((pool: self, done: done), eventLoop: eventLoop)
        connected.whenComplete { result in
            let (pool, done) = bound.value
            switch result {
            case .failure(let error):
                pool.open[key, default: 1] -= 1
                if case ChannelError.connectTimeout = error { done(.failure(.connectTimeout)) } else { done(.failure(.connectFailed(error))) }
            case .success(let channel):
                let connection = UpstreamConnection(
                    channel: channel, key: key, createdNanos: pool.clock.monotonicNanos(), tlsContext: tls?.context)
                handler.value.connection = connection
                connection.pool = pool
                let forget = NIOLoopBound((pool, connection), eventLoop: pool.eventLoop)
                channel.closeFuture.whenComplete { _ in forget.value.0.forget(forget.value.1) }
                guard let tlsHandler else {
                    done(.success((connection, false)))
                    return
                }
                if pool.connector != nil {
                    // An injected connector made the channel: TLS goes in front of its handler
                    // now (handlerAdded starts the handshake on the active channel).
                    do {
                        guard channel.isActive else { throw TLSError(.unexpectedEOF, "connection closed before the handshake") }
                        try channel.pipeline.syncOperations.addHandler(tlsHandler.value, position: .first)
                    } catch {
                        channel.close(promise: nil)
                        done(.failure(.tlsHandshake(error as? TLSError ?? TLSError(.internal, "\(error)"))))
                        return
                    }
                }
                // Handed over once the handshake completed; a failed one closes the channel
                // itself (`forget` then gives the slot back).
                tlsHandler.value.whenHandshakeCompletes { outcome in
                    switch outcome {
                    case .success: done(.success((connection, false)))
                    case .failure(let error): done(.failure(.tlsHandshake(error)))
                    }
                }
            }
        }
    }

    /// A TCP connection to `address`, with `handler` as its pipeline's handler and, for TLS,
    /// `tls` in front of it (the handshake starts when TCP is up).
    private func openSocket(
        to address: UpstreamAddress, limits: Limits, handler: NIOLoopBound<UpstreamChannelHandler>,
        tls: NIOLoopBound<TLSClientHandler>?
    ) -> EventLoopFuture<any Channel> {
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(limits.connectTimeout.timeAmount)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: ProxyServer.writeWaterMark)
            .channelOption(.maxMessagesPerRead, value: ProxyServer.maxMessagesPerRead)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(tls.value) }
                    try channel.pipeline.syncOperations.addHandler(handler.value)
                }
            }
        switch address {
        case .resolved(let socketAddress): return bootstrap.connect(to: socketAddress)
        case .name(let host, let port): return bootstrap.connect(host: host, port: port)
        }
    }

    /// The TLS handler of a new connection to `key`'s target: its name, the cached session,
    /// and a callback that keeps the sessions the server issues for the next connection.
    private func makeTLSHandler(_ key: Key, tls: UpstreamTLS, handshakeTimeout: Duration) throws(TLSError) -> TLSClientHandler {
        let name = tls.serverNames[key.target]
        let context = tls.context
        let sessions = self.sessions
        return try TLSClientHandler(
            context: context, serverName: name, session: sessions.session(for: key, context: context, serverName: name),
            handshakeTimeout: handshakeTimeout, upstream: tls.upstream, metrics: tlsMetrics
        ) { session in
            sessions.store(session, for: key, context: context, serverName: name)
        }
    }

    /// Puts a connection back for reuse, or closes it when it may not be reused.
    func release(_ connection: UpstreamConnection, reusable: Bool, limits: Limits, now: UInt64? = nil) {
        let now = now ?? clock.monotonicNanos()
        guard reusable, !connection.isBroken, !expired(connection, now: now, limits: limits),
              (idle[connection.key]?.items.count ?? 0) < limits.maxIdle
        else {
            close(connection)
            return
        }
        connection.requestsServed += 1
        connection.markIdle(at: now, pool: self)
        idleList(connection.key).items.append(connection)
        scheduleSweep(limits.idleTimeout)
    }

    /// Drops a connection that closed or misbehaved while idle.
    func discard(_ connection: UpstreamConnection) {
        if let list = idle[connection.key], let i = list.items.firstIndex(where: { $0 === connection }) {
            list.items.remove(at: i)
        }
    }

    /// Called once per connection, when its channel has closed.
    private func forget(_ connection: UpstreamConnection) {
        discard(connection)
        open[connection.key, default: 1] -= 1
    }

    private func close(_ connection: UpstreamConnection) {
        connection.isBroken = true
        discard(connection)
        connection.channel.close(promise: nil)
    }

    private func expired(_ c: UpstreamConnection, now: UInt64, limits: Limits) -> Bool {
        if let life = limits.maxLifetime, now &- c.createdNanos > UInt64(life.nanoseconds) { return true }
        if c.idleSinceNanos != 0, now &- c.idleSinceNanos > UInt64(limits.idleTimeout.nanoseconds) { return true }
        return false
    }

    private var sweepInterval: Duration?
    private var sweepIdleTimeout: Duration?

    /// Closes idle connections past their idle timeout, so an idle pool holds no sockets forever.
    private func scheduleSweep(_ idleTimeout: Duration) {
        // Called on every release: the common case (a sweep already runs for this timeout) must
        // not pay for Duration arithmetic (128-bit).
        if sweepIdleTimeout == idleTimeout, sweep != nil { return }
        sweepIdleTimeout = idleTimeout
        let interval = max(idleTimeout / 2, .milliseconds(100))
        if let current = sweepInterval, current <= interval { return }
        sweep?.cancel()
        sweepInterval = interval
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        sweep = eventLoop.scheduleRepeatedTask(initialDelay: interval.timeAmount, delay: interval.timeAmount) { _ in
            bound.value.sweepNow(idleTimeout: idleTimeout)
        }
    }

    private func sweepNow(idleTimeout: Duration) {
        let now = clock.monotonicNanos()
        for (_, list) in idle {
            let (keep, drop) = list.items.reduce(into: ([UpstreamConnection](), [UpstreamConnection]())) { acc, c in
                if now &- c.idleSinceNanos > UInt64(idleTimeout.nanoseconds) { acc.1.append(c) } else { acc.0.append(c) }
            }
            list.items = keep
            for c in drop { c.isBroken = true; c.channel.close(promise: nil) }
        }
    }

    /// This event loop's fast random source (trace ids, trace contexts).
    var random = FastRandom()
    /// Retry budgets per upstream (index in the snapshot), for this event loop.
    private var budgets: [Int: RetryBudget] = [:]

    func recordRequest(upstream: Int, now: Duration) {
        budgets[upstream, default: RetryBudget()].recordRequest(now: now)
    }

    func withBudget<T>(upstream: Int, _ body: (inout RetryBudget) -> T) -> T {
        body(&budgets[upstream, default: RetryBudget()])
    }

    /// Closes every idle connection (shutdown).
    func closeIdle() {
        sweep?.cancel()
        sweep = nil
        for (_, list) in idle { for c in list.items { c.isBroken = true; c.channel.close(promise: nil) } }
        idle.removeAll()
    }

    var idleCount: Int { idle.values.reduce(0) { $0 + $1.items.count } }
}

@available(*, unavailable)
extension UpstreamPool: Sendable {}

/// Where to connect: an address resolved once at configuration time (IP literals), or a name
/// resolved at connect time.
enum UpstreamAddress: Sendable {
    case resolved(SocketAddress)
    case name(host: String, port: Int)
}

extension Duration {
    var nanoseconds: Int64 {
        let (s, atto) = components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
}
