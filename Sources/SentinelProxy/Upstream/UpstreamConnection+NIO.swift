import NIOCore
import SentinelTLS

/// The pipeline's only handler on an upstream channel, and the connection's link on NIO: it
/// hands raw bytes and events to the connection and writes the connection's bytes.
final class UpstreamChannelHandler: ChannelInboundHandler, UpstreamLink {
    typealias InboundIn = ByteBuffer

    var connection: UpstreamConnection?
    /// The channel, once connected (the link writes through it while the handler is not in the
    /// pipeline).
    var channel: (any Channel)?

    /// The pipeline position of this handler, while it is in the pipeline: writes start there
    /// (no event-loop check and no walk from the pipeline's tail, as `channel.write` does). nil
    /// once the handler is removed; writes then go through the channel.
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if channel == nil { channel = context.channel }
    }

    /// Breaks the context → handler cycle.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection?.received(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connection?.readComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // NIO fires this on every change, synchronously from the write that crossed a
        // watermark, so the connection's copy equals `channel.isWritable` on the event loop.
        connection?.writabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        connection?.closed()
        connection = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tls = error as? TLSError { connection?.failureCause = "TLS " + tls.summary }
        context.close(promise: nil)
    }

    // MARK: - UpstreamLink

    func write(_ buffer: ByteBuffer) {
        if let context { context.write(NIOAny(buffer), promise: nil) } else { channel?.write(buffer, promise: nil) }
    }

    func writeAndFlush(_ buffer: ByteBuffer) {
        if let context { context.writeAndFlush(NIOAny(buffer), promise: nil) } else { channel?.writeAndFlush(buffer, promise: nil) }
    }

    func flush() {
        if let context { context.flush() } else { channel?.flush() }
    }

    func setReading(_ on: Bool) {
        channel?.setOption(.autoRead, value: on).whenComplete { _ in }
    }

    func close() {
        channel?.close(promise: nil)
    }

    /// An idle channel stays on its loop as it is.
    func park() {}

    func attach(to site: (any UpstreamSite)?) -> Bool { true }
}

@available(*, unavailable)
extension UpstreamChannelHandler: Sendable {}
