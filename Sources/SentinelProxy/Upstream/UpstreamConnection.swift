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

/// One TCP connection to an upstream target, reused across requests (keep-alive).
///
/// While it sits idle in the pool, any byte from the upstream or a close makes it unusable: a
/// server that talks without being asked is broken, and reusing it would mix two responses.
final class UpstreamConnection {
    let channel: any Channel
    let key: UpstreamPool.Key
    let createdNanos: UInt64
    var requestsServed = 0
    var idleSinceNanos: UInt64 = 0
    weak var delegate: (any UpstreamConnectionDelegate)?
    /// Set once the channel closed or misbehaved; never returned to the pool again.
    var isBroken = false
    /// Why the connection failed, when a handler said so before it closed ("TLS peer_alert: …").
    var failureCause: String?
    fileprivate(set) var isIdle = false
    weak var pool: UpstreamPool?
    /// The client context of a TLS connection (nil: plain TCP): the pool reuses the connection
    /// only for requests under the same context.
    let tlsContext: TLSClientContext?

    init(channel: any Channel, key: UpstreamPool.Key, createdNanos: UInt64, tlsContext: TLSClientContext? = nil) {
        self.channel = channel
        self.key = key
        self.createdNanos = createdNanos
        self.tlsContext = tlsContext
    }

    /// The channel's writability as its last `channelWritabilityChanged` said. NIO fires that
    /// event on every change, synchronously from the write that crossed a watermark, so this
    /// equals `channel.isWritable` on the event loop without NIO's channel and atomic lookups.
    private(set) var isWritable = true

    /// The pipeline position of this connection's handler, while it is in the pipeline: writes
    /// start there (no event-loop check and no walk from the pipeline's tail, as `channel.write`
    /// does). nil once the handler is removed; writes then go through the channel.
    fileprivate(set) var context: ChannelHandlerContext?

    func write(_ buffer: ByteBuffer) {
        if let context { context.write(NIOAny(buffer), promise: nil) } else { channel.write(buffer, promise: nil) }
    }

    func writeAndFlush(_ buffer: ByteBuffer) {
        if let context { context.writeAndFlush(NIOAny(buffer), promise: nil) } else { channel.writeAndFlush(buffer, promise: nil) }
    }

    func flush() {
        if let context { context.flush() } else { channel.flush() }
    }

    private var autoRead = true

    /// Pauses or resumes reading from the upstream (backpressure from a slow client); a no-op
    /// when nothing changes, so the common case costs no system call.
    func setAutoRead(_ on: Bool) {
        guard on != autoRead else { return }
        autoRead = on
        channel.setOption(.autoRead, value: on).whenComplete { _ in }
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

    fileprivate func received(_ buffer: ByteBuffer) {
        if let delegate {
            delegate.upstreamRead(buffer)
        } else {
            // Bytes on an idle connection: the upstream is confused; never reuse it.
            isBroken = true
            pool?.discard(self)
            channel.close(promise: nil)
        }
    }

    fileprivate func readComplete() { delegate?.upstreamReadComplete() }

    fileprivate func writabilityChanged() {
        isWritable = channel.isWritable
        delegate?.upstreamWritabilityChanged(isWritable)
    }

    fileprivate func closed() {
        isBroken = true
        pool?.discard(self)
        let d = delegate
        delegate = nil
        d?.upstreamClosed()
    }
}

@available(*, unavailable)
extension UpstreamConnection: Sendable {}

/// The pipeline's only handler on an upstream channel: it hands raw bytes to the connection.
final class UpstreamChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    var connection: UpstreamConnection? {
        didSet { connection?.context = context }
    }
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        connection?.context = context
    }

    /// Breaks the connection → context → handler → connection cycle.
    func handlerRemoved(context: ChannelHandlerContext) {
        connection?.context = nil
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection?.received(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connection?.readComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection?.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection?.context = nil
        connection?.closed()
        connection = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tls = error as? TLSError { connection?.failureCause = "TLS " + tls.summary }
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension UpstreamChannelHandler: Sendable {}
