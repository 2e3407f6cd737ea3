import NIOCore

/// The NIO host of `ProxyProtocolGate`: first in a `proxy-protocol` listener's pipeline (before
/// TLS), it closes a connection from an untrusted peer at once, holds the first bytes until the
/// header is complete, hands the client it names to the connection (`ProxyConnectionHandler`,
/// given at setup) and the bytes after it down the pipeline, then removes itself.
final class ProxyProtocolHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var gate = ProxyProtocolGate()
    private let policy: ForwardingPolicy
    private let metrics: ProxyProtocolMetrics
    private weak var connection: ProxyConnectionHandler?
    private enum State { case reading, passing, closed }
    private var state = State.reading

    init(policy: ForwardingPolicy, metrics: ProxyProtocolMetrics, connection: ProxyConnectionHandler) {
        self.policy = policy
        self.metrics = metrics
        self.connection = connection
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if !ProxyProtocolGate.admits(Self.addressBytes(context.channel.remoteAddress), policy: policy) {
            metrics.untrustedPeer()
            state = .closed
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .reading: break
        case .passing: return context.fireChannelRead(data)
        case .closed: return
        }
        var buffer = unwrapInboundIn(data)
        let step = buffer.withUnsafeReadableBytes { gate.feed($0) }
        metrics.count(step)
        switch step {
        case .needMore:
            return
        case .refuse:
            state = .closed
            context.close(promise: nil)
        case .done(let client, let consumed):
            state = .passing
            if let client { connection?.proxyClient(client) }
            buffer.moveReaderIndex(forwardBy: consumed)
            if buffer.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(buffer)) }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    static func addressBytes(_ address: SocketAddress?) -> [UInt8]? {
        switch address {
        case .v4(let a): withUnsafeBytes(of: a.address.sin_addr) { Array($0) }
        case .v6(let a): withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
        default: nil
        }
    }
}
