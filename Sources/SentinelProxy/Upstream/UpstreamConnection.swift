import NIOCore
import SentinelTLS

/// Who is using an upstream connection right now: the exchange that owns it receives its
/// bytes and events. Everything happens on the connection's event loop.
protocol UpstreamConnectionDelegate: AnyObject {
    func upstreamRead(_ buffer: ByteBuffer)
    func upstreamReadComplete()
    func upstreamWritabilityChanged(_ writable: Bool)
    func upstreamClosed()
}

/// One connection to an upstream target, reused across requests (keep-alive), whatever loop
/// hosts it: its I/O is an `UpstreamLink` (a NIO channel, or a socket of Sentinel's reactor).
///
/// While it sits idle in the pool, any byte from the upstream or a close makes it unusable: a
/// server that talks without being asked is broken, and reusing it would mix two responses.
final class UpstreamConnection {
    /// The transport's side of the connection (set once, right after it is made).
    var link: (any UpstreamLink)!
    let key: UpstreamPool.Key
    let createdNanos: UInt64
    var requestsServed = 0
    var idleSinceNanos: UInt64 = 0
    weak var delegate: (any UpstreamConnectionDelegate)?
    /// Set once the connection closed or misbehaved; never returned to the pool again.
    var isBroken = false
    /// Why the connection failed, when its transport said so before it closed ("TLS peer_alert: …").
    var failureCause: String?
    fileprivate(set) var isIdle = false
    weak var pool: UpstreamPool?
    /// The client context of a TLS connection (nil: plain TCP): the pool reuses the connection
    /// only for requests under the same context.
    let tlsContext: TLSClientContext?
    /// The target's address the connection was opened to, and the upstream generation (reload)
    /// that last confirmed it: a reload may put another address at the same target position.
    let address: UpstreamAddress
    var generation: UInt64

    init(
        link: (any UpstreamLink)? = nil, key: UpstreamPool.Key, createdNanos: UInt64, tlsContext: TLSClientContext? = nil,
        address: UpstreamAddress, generation: UInt64
    ) {
        self.link = link
        self.key = key
        self.createdNanos = createdNanos
        self.tlsContext = tlsContext
        self.address = address
        self.generation = generation
    }

    /// The connection takes bytes (below its transport's high watermark), as the transport
    /// last reported (`writabilityChanged`): no lookup per check.
    private(set) var isWritable = true

    func write(_ buffer: ByteBuffer) { link.write(buffer) }

    func writeAndFlush(_ buffer: ByteBuffer) { link.writeAndFlush(buffer) }

    func flush() { link.flush() }

    /// Closes the connection at once; it is never reused.
    func close() {
        isBroken = true
        link.close()
    }

    private var autoRead = true

    /// Pauses or resumes reading from the upstream (backpressure from a slow client); a no-op
    /// when nothing changes, so the common case costs no system call.
    func setAutoRead(_ on: Bool) {
        guard on != autoRead else { return }
        autoRead = on
        link.setReading(on)
    }

    func markIdle(at now: UInt64, pool: UpstreamPool) {
        delegate = nil
        setAutoRead(true)
        isIdle = true
        idleSinceNanos = now
        self.pool = pool
    }

    func markActive() {
        isIdle = false
    }

    // MARK: - Reported by the link

    func received(_ buffer: ByteBuffer) {
        if let delegate {
            delegate.upstreamRead(buffer)
        } else {
            // Bytes on an idle connection: the upstream is confused; never reuse it.
            isBroken = true
            pool?.discard(self)
            link.close()
        }
    }

    func readComplete() { delegate?.upstreamReadComplete() }

    func writabilityChanged(_ writable: Bool) {
        isWritable = writable
        delegate?.upstreamWritabilityChanged(writable)
    }

    /// The connection closed (by either side).
    func closed() {
        isBroken = true
        pool?.discard(self)
        let d = delegate
        delegate = nil
        d?.upstreamClosed()
    }
}

@available(*, unavailable)
extension UpstreamConnection: Sendable {}
