import NIOCore

/// What the HTTP/1 connection logic (`ProxyConnectionHandler`: parsing, admission, local
/// answers, exchanges, deadlines, accounting) needs of whatever moves its bytes: queue and flush
/// writes, ask for more bytes, close, one timer, the loop it runs on. Two hosts implement it:
/// a NIO channel (`NIOHTTP1Host`, below) and a reactor session (`HTTP1ReactorDriver`, see
/// `Reactor/`). Every decision stays in the connection; a host only performs.
///
/// Held by the connection as a class existential (one indirect call per use, no allocation).
protocol HTTP1Host: AnyObject {
    /// The loop the connection is confined to (timers of its services, hops back from other threads).
    var eventLoop: any EventLoop { get }
    var allocator: ByteBufferAllocator { get }
    /// Queues `buffer` for the client (sent by the next `flush`).
    func write(_ buffer: ByteBuffer)
    /// Sends what was queued.
    func flush()
    /// The connection wants more client bytes (a read it held back may happen now).
    func readMore()
    /// Closes the connection now (queued bytes may be lost).
    func close()
    /// Closes the connection once everything written so far is sent.
    func closeAfterWrites()
    /// The connection's one timer: `deadlineTimerFired` at `deadline` (monotonic ns), replacing
    /// the armed one.
    func armTimer(at deadline: UInt64, now: UInt64)
    func cancelTimer()
    /// The address the connection was accepted on (for a request that names no authority).
    var localAddress: (ip: String, port: Int)? { get }
    /// Where the connection's exchanges keep their upstream connections (`Downstream.upstreamSite`):
    /// the reactor session's site; nil on NIO (the default).
    var upstreamSite: (any UpstreamSite)? { get }
}

extension HTTP1Host {
    var upstreamSite: (any UpstreamSite)? { nil }
}

/// The NIO host: a channel handler context. Created when the handler is added to its pipeline
/// and dropped when it is removed (it holds the context, which holds the handler).
final class NIOHTTP1Host: HTTP1Host {
    let context: ChannelHandlerContext
    unowned let connection: ProxyConnectionHandler
    /// The connection's one timer.
    var deadlineTimer: Scheduled<Void>?

    init(context: ChannelHandlerContext, connection: ProxyConnectionHandler) {
        self.context = context
        self.connection = connection
    }

    var eventLoop: any EventLoop { context.eventLoop }
    var allocator: ByteBufferAllocator { context.channel.allocator }

    @inline(__always)
    func write(_ buffer: ByteBuffer) { context.write(NIOAny(buffer), promise: nil) }

    @inline(__always)
    func flush() { context.flush() }

    func readMore() { context.read() }

    func close() { context.close(promise: nil) }

    func closeAfterWrites() {
        let channel = context.channel
        context.flush()
        channel.writeAndFlush(ByteBuffer()).whenComplete { _ in channel.close(promise: nil) }
    }

    func armTimer(at deadline: UInt64, now: UInt64) {
        deadlineTimer?.cancel()
        let bound = NIOLoopBound(connection, eventLoop: context.eventLoop)
        deadlineTimer = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(deadline &- min(now, deadline)))) {
            bound.value.deadlineTimerFired()
        }
    }

    func cancelTimer() {
        deadlineTimer?.cancel()
        deadlineTimer = nil
    }

    var localAddress: (ip: String, port: Int)? {
        guard let local = context.channel.localAddress, let ip = local.ipAddress, let port = local.port else { return nil }
        return (ip, port)
    }
}
