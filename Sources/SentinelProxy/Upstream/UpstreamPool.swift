import NIOCore
import SentinelPolicy
import SentinelTLS

/// Keep-alive connections to upstream targets, one pool per event loop (or reactor).
///
/// Connections are opened on the downstream connection's event loop and only ever used there,
/// so a proxied exchange never hops threads and the pool needs no lock. The bookkeeping here is
/// the same for every loop; opening connections and running timers is its `transport`'s. Bounds: at most
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

    /// How connections are opened and timers run: NIO channels (`NIOUpstreamTransport`) or
    /// Sentinel's reactor.
    let transport: any UpstreamTransport
    let clock: ServerClock
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
    private var sweep: (any UpstreamTimer)?
    /// This loop's target selection (balancers filtered by upstream health).
    let selector: TargetSelector

    /// This loop's `Date` field, formatted once per second (local replies, forwarded
    /// responses without one).
    let date: HTTPDateCache

    /// This loop's latest TLS session per target, offered by the next new connection to it.
    let sessions = UpstreamSessionCache()
    /// Counts upstream TLS handshakes (nil: not counted).
    let tlsMetrics: UpstreamTLSMetrics?
    init(
        transport: any UpstreamTransport, clock: ServerClock, selector: TargetSelector = TargetSelector(),
        tlsMetrics: UpstreamTLSMetrics? = nil
    ) {
        self.transport = transport
        self.clock = clock
        self.selector = selector
        self.tlsMetrics = tlsMetrics
        date = HTTPDateCache(clock: clock)
    }

    /// A pool on a NIO event loop. `connector`: opens channels to targets; nil: TCP sockets.
    /// Tests inject one to drive exchanges without sockets.
    convenience init(
        eventLoop: any EventLoop, clock: ServerClock, selector: TargetSelector = TargetSelector(),
        connector: (any UpstreamConnector)? = nil, tlsMetrics: UpstreamTLSMetrics? = nil
    ) {
        self.init(
            transport: NIOUpstreamTransport(eventLoop: eventLoop, connector: connector), clock: clock, selector: selector,
            tlsMetrics: tlsMetrics)
    }

    typealias Acquired = Result<(connection: UpstreamConnection, reused: Bool), AcquireError>

    /// A connection to `address`: an idle one if any is still good, else a new one. `done` runs
    /// on this pool's event loop (at once for a reused connection).
    /// A live idle connection to `key`, made active; nil when there is none (the caller then
    /// `acquire`s). Synchronous, so the common case of a reused connection needs no callback.
    /// `tls`: the upstream's current client context (nil: plain); a connection made under
    /// another one (plain before a reload, another CA or client certificate) is not reused.
    ///
    /// `address` and `generation`: the target as the current snapshot has it. A connection made
    /// under an earlier generation is reused only when its address is still the target's (a
    /// reload may put another backend at the same position); the check costs one integer
    /// comparison until a reload.
    ///
    /// `site`: where the taking exchange's connections live (its reactor session; nil on NIO).
    func takeIdle(
        _ key: Key, limits: Limits, now: UInt64, tls: TLSClientContext? = nil, address: UpstreamAddress, generation: UInt64,
        site: (any UpstreamSite)? = nil
    ) -> UpstreamConnection? {
        // Popped in place: copying the list out of the dictionary and back would copy the array.
        while let candidate = idle[key]?.items.popLast() {
            candidate.markActive()
            // `isBroken` is set when the channel goes inactive (and on any misbehaviour), so it
            // answers what `channel.isActive` would, without NIO's lifecycle lookups.
            if candidate.isBroken || candidate.tlsContext !== tls || expired(candidate, now: now, limits: limits) {
                close(candidate)
                continue
            }
            if candidate.generation != generation {
                guard candidate.address == address else {
                    close(candidate)
                    continue
                }
                candidate.generation = generation
            }
            guard candidate.link.attach(to: site) else {
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
        _ key: Key, address: UpstreamAddress, generation: UInt64, limits: Limits, tls: UpstreamTLS? = nil, fresh: Bool = false,
        now: UInt64? = nil, site: (any UpstreamSite)? = nil, done: @escaping (Acquired) -> Void
    ) {
        let now = now ?? clock.monotonicNanos()
        if !fresh, let candidate = takeIdle(
            key, limits: limits, now: now, tls: tls?.context, address: address, generation: generation, site: site)
        {
            done(.success((candidate, true)))
            return
        }
        if open[key, default: 0] >= limits.maxConnections {
            done(.failure(.poolExhausted))
            return
        }
        open[key, default: 0] += 1
        transport.open(
            key, address: address, generation: generation, limits: limits, tls: tls, site: site, pool: self, done: done)
    }

    /// A connection the transport counted as opening never came to be (refused, timed out).
    func openFailed(_ key: Key) {
        open[key, default: 1] -= 1
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
        // Last: a reactor connection that cannot park closes (and leaves the list) right here.
        connection.link.park()
        scheduleSweep(limits.idleTimeout)
    }

    /// Drops a connection that closed or misbehaved while idle.
    func discard(_ connection: UpstreamConnection) {
        if let list = idle[connection.key], let i = list.items.firstIndex(where: { $0 === connection }) {
            list.items.remove(at: i)
        }
    }

    /// Called once per connection, when it has closed.
    func forget(_ connection: UpstreamConnection) {
        discard(connection)
        open[connection.key, default: 1] -= 1
    }

    private func close(_ connection: UpstreamConnection) {
        discard(connection)
        connection.close()
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
        sweep = transport.scheduleRepeated(every: interval) { [weak self] in
            self?.sweepNow(idleTimeout: idleTimeout)
        }
    }

    private func sweepNow(idleTimeout: Duration) {
        let now = clock.monotonicNanos()
        for (_, list) in idle {
            let (keep, drop) = list.items.reduce(into: ([UpstreamConnection](), [UpstreamConnection]())) { acc, c in
                if now &- c.idleSinceNanos > UInt64(idleTimeout.nanoseconds) { acc.1.append(c) } else { acc.0.append(c) }
            }
            list.items = keep
            for c in drop { c.close() }
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
        for (_, list) in idle { for c in list.items { c.close() } }
        idle.removeAll()
    }

    var idleCount: Int { idle.values.reduce(0) { $0 + $1.items.count } }
}

@available(*, unavailable)
extension UpstreamPool: Sendable {}

/// Where to connect: an address resolved once at configuration time (IP literals), or a name
/// resolved at connect time.
enum UpstreamAddress: Sendable, Equatable {
    case resolved(SocketAddress)
    case name(host: String, port: Int)
}

extension Duration {
    var nanoseconds: Int64 {
        let (s, atto) = components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
}
