import NIOCore

// The upstream side of a proxied exchange: the twin of `Downstream.swift`.
//
// The exchange reaches upstream targets through two protocol-neutral objects and nothing else:
// - `UpstreamPool` (one per event loop or reactor): acquire a connection for a target key
//   (`takeIdle`, `acquire`: limits, connect deadline, TLS context, the target's address and
//   generation), give it back (`release`, reusable or not), schedule a retry's back-off.
// - `UpstreamConnection` (one per upstream socket): write head and body bytes, flush, read
//   interest (`setAutoRead`), writability, response bytes and events in (its delegate,
//   `UpstreamConnectionDelegate`), abort (`close`), and its facts (key, address, generation,
//   TLS context, failure cause).
// Both keep their bookkeeping (idle lists, open counts, expiry, generation checks) themselves;
// what depends on the event loop is behind the two protocols below, implemented once per host:
// NIO (`UpstreamPool+NIO.swift`: channels, with an injectable `UpstreamConnector` for tests)
// and Sentinel's own reactor (`UpstreamPool+Reactor.swift`).

/// The I/O of one upstream connection, as its transport provides it. The connection calls it;
/// the link reports back to its `UpstreamConnection` (bytes, read complete, writability, close).
protocol UpstreamLink: AnyObject {
    /// Queues bytes for the upstream (not flushed).
    func write(_ buffer: ByteBuffer)
    /// Queues bytes and flushes.
    func writeAndFlush(_ buffer: ByteBuffer)
    /// Sends what was queued.
    func flush()
    /// Read interest on or off (called only on a change).
    func setReading(_ on: Bool)
    /// Closes the connection at once (it is never reused). Idempotent.
    func close()
    /// The connection goes idle into its pool (it no longer belongs to a client connection).
    func park()
    /// An exchange whose upstream connections live at `site` takes the idle connection.
    /// Returns false when it cannot move there (the pool then closes it).
    func attach(to site: (any UpstreamSite)?) -> Bool
}

/// Where an exchange's upstream connections live, when that is not simply "the event loop":
/// on Sentinel's reactor, the client connection's session (a `ReactorUpstreamSite`, whose
/// driver forwards the upstream endpoints' events). nil on NIO. The exchange takes it from its
/// downstream (`Downstream.upstreamSite`) and hands it to the pool.
protocol UpstreamSite: AnyObject {}

/// A scheduled piece of work that can be called off.
protocol UpstreamTimer {
    func cancel()
}

/// How a pool's connections come into being and how its timers run: the event loop's part of
/// the pool. One per pool; called only on the pool's loop.
protocol UpstreamTransport: AnyObject {
    /// Opens a connection to `address` for `key` (TLS per `tls`, its handshake inside the
    /// connect deadline `limits.connectTimeout`) for an exchange at `site`, reporting on the
    /// pool's loop. The pool counted
    /// the connection as open before the call; the transport gives the count back with
    /// `pool.openFailed(key)` when no connection came to be, or `pool.forget(connection)` once
    /// a connection it made has closed (exactly one of the two, once).
    func open(
        _ key: UpstreamPool.Key, address: UpstreamAddress, generation: UInt64, limits: UpstreamPool.Limits, tls: UpstreamTLS?,
        site: (any UpstreamSite)?, pool: UpstreamPool, done: @escaping (UpstreamPool.Acquired) -> Void)

    /// Runs `work` once after `delay` on the pool's loop.
    func schedule(after delay: Duration, _ work: @escaping () -> Void) -> any UpstreamTimer

    /// Runs `work` every `interval` on the pool's loop until cancelled.
    func scheduleRepeated(every interval: Duration, _ work: @escaping () -> Void) -> any UpstreamTimer
}
