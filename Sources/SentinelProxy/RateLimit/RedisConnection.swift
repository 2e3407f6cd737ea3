import NIOCore
import NIOPosix
import SentinelRateLimit

/// Why a Redis call gave no reply.
enum RedisCallError: Error, Equatable {
    /// No connection (refused, closed, or still backing off after a failure).
    case down
    /// No reply within the per-call timeout (a slow server).
    case timeout
    /// Too many calls already waiting on the connection.
    case busy
    /// The server's bytes were not RESP.
    case protocolError
}

/// One pipelined connection to Redis, confined to its event loop: calls are written as they
/// come and answered in order (RESP replies arrive in request order). Connects on first use and
/// again after a failure, no sooner than `backoff` later (calls meanwhile fail at once, so a
/// down server costs a request nothing but the fallback). Every call has its own timeout; a
/// reply that comes after it is read and dropped, which keeps the order.
final class RedisConnection: @unchecked Sendable {
    /// A call waiting for its reply; touched only on the connection's loop.
    final class Call: @unchecked Sendable {
        var done: ((Result<RESPValue, RedisCallError>) -> Void)?
        var timer: Scheduled<Void>?

        init(_ done: @escaping (Result<RESPValue, RedisCallError>) -> Void) { self.done = done }

        func finish(_ r: Result<RESPValue, RedisCallError>) {
            timer?.cancel()
            timer = nil
            if let d = done {
                done = nil
                d(r)
            }
        }
    }

    let loop: any EventLoop
    let host: String
    let port: Int
    let timeout: TimeAmount
    /// Most calls waiting for replies on this connection.
    let maxInFlight: Int
    let backoff: TimeAmount = .milliseconds(500)

    private var channel: (any Channel)?
    private var connecting = false
    private var queuedForConnect: [(bytes: [UInt8], call: Call)] = []
    private var inFlight: [Call] = []
    private var head = 0
    private var retryAt: NIODeadline = .uptimeNanoseconds(0)
    private var decoder = RESP.Decoder()

    init(loop: any EventLoop, host: String, port: Int, timeout: TimeAmount, maxInFlight: Int = 4096) {
        self.loop = loop
        self.host = host
        self.port = port
        self.timeout = timeout
        self.maxInFlight = maxInFlight
    }

    /// Sends `bytes` (one command) and calls `done` once, on the connection's loop. Call from any thread.
    func call(_ bytes: [UInt8], _ done: @escaping @Sendable (Result<RESPValue, RedisCallError>) -> Void) {
        loop.execute { self.callOnLoop(bytes, Call(done)) }
    }

    private func callOnLoop(_ bytes: [UInt8], _ call: Call) {
        if let channel {
            send(bytes, call, on: channel)
            return
        }
        guard NIODeadline.now() >= retryAt else { return call.finish(.failure(.down)) }
        guard queuedForConnect.count < maxInFlight else { return call.finish(.failure(.busy)) }
        call.timer = loop.scheduleTask(in: timeout) { [weak call] in call?.finish(.failure(.timeout)) }
        queuedForConnect.append((bytes, call))
        connect()
    }

    private func send(_ bytes: [UInt8], _ call: Call, on channel: any Channel) {
        guard inFlight.count - head < maxInFlight else { return call.finish(.failure(.busy)) }
        if call.timer == nil {
            call.timer = loop.scheduleTask(in: timeout) { [weak call] in call?.finish(.failure(.timeout)) }
        }
        inFlight.append(call)
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
    }

    private func connect() {
        guard !connecting else { return }
        connecting = true
        let handler = RedisReplyHandler(connection: self)
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .connect(host: host, port: port)
            .whenComplete { result in
                self.connecting = false
                switch result {
                case .success(let channel):
                    self.channel = channel
                    let queued = self.queuedForConnect
                    self.queuedForConnect = []
                    for (bytes, call) in queued where call.done != nil { self.send(bytes, call, on: channel) }
                case .failure:
                    self.retryAt = .now() + self.backoff
                    let queued = self.queuedForConnect
                    self.queuedForConnect = []
                    for (_, call) in queued { call.finish(.failure(.down)) }
                }
            }
    }

    /// Bytes from the server (on the loop).
    fileprivate func received(_ buffer: ByteBuffer) {
        decoder.append(buffer.readableBytesView)
        while true {
            let reply: RESPValue?
            do { reply = try decoder.next() } catch {
                channel?.close(promise: nil)
                return
            }
            guard let reply else { return }
            guard head < inFlight.count else { continue }
            let call = inFlight[head]
            head += 1
            if head > 64, head * 2 > inFlight.count {
                inFlight.removeFirst(head)
                head = 0
            }
            call.finish(.success(reply))
        }
    }

    /// The connection ended (on the loop): every waiting call fails; the next call reconnects
    /// after the backoff.
    fileprivate func closed() {
        channel = nil
        decoder = RESP.Decoder()
        retryAt = .now() + backoff
        let waiting = inFlight[head...]
        inFlight = []
        head = 0
        for call in waiting { call.finish(.failure(.down)) }
    }

    /// Connects now, before the first call (so the first requests do not wait for a connect,
    /// or time out during one and fall back to the local limiter).
    func prewarm() {
        loop.execute { if self.channel == nil, !self.connecting { self.connect() } }
    }

    func close() {
        loop.execute { self.channel?.close(promise: nil) }
    }
}

private final class RedisReplyHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let connection: RedisConnection

    init(connection: RedisConnection) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.received(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.closed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
