import NIOCore
import SentinelTLS

/// Hosts one `TLSEngine` (client role) on an upstream connection, in front of the handlers that
/// speak HTTP/1 (`UpstreamChannelHandler`) or HTTP/2 (a gRPC health probe): plaintext written by
/// them goes out as records; records from the upstream come in decrypted.
///
/// It exists so an upstream connection looks the same above it with or without TLS. The
/// handshake starts when the TCP connection is up; the handlers behind it see `channelActive`
/// only once the handshake completed (a probe writes its request then), and writes made before
/// that wait in order. `whenHandshakeCompletes` tells the pool or the prober the outcome,
/// exactly once. The handshake has its own deadline (the engine has no timers).
///
/// A failure (bad certificate, alert, timeout, a close during the handshake) writes the alert
/// the engine queued, then closes; it is counted once by reason.
final class TLSClientHandler: ChannelDuplexHandler, RemovableChannelHandler, TLSChannelEnd {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    typealias Outcome = Result<TLSConnectionFacts, TLSError>

    let engine: TLSEngine
    private let handshakeTimeout: Duration
    private var deadline: Scheduled<Void>?
    /// Ciphertext the engine has not taken yet (only when the plaintext buffer filled).
    private var leftover: ByteBuffer?
    var closing = false
    private var started = false
    /// `channelActive` arrived and is held back until the handshake completes.
    private var activePending = false
    /// Writes (and a flush) made before the handshake completed, in order.
    private var waiting: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var flushWaiting = false
    private(set) var outcome: Outcome?
    private var onOutcome: ((Outcome) -> Void)?
    /// Gets every new session the server issues (TLS 1.3 tickets arrive after the handshake).
    private let onSession: ((TLSSession) -> Void)?
    private var lastSession: TLSSession?
    private let metrics: UpstreamTLSMetrics?
    private let upstream: String
    /// Plaintext arrived from the upstream: a TLS failure after it is no handshake failure.
    private var receivedPlaintext = false

    /// - Parameters:
    ///   - serverName: sent as SNI unless an IP literal; verified unless the context does not verify.
    ///   - session: a session of an earlier connection to the same target, to resume.
    ///   - alpn: this connection's ALPN list instead of the context's (the gRPC probe's `h2`).
    ///   - metrics: counts the handshake and its failures under `upstream` (nil: not counted).
    init(
        context: TLSClientContext, serverName: String?, session: TLSSession?, alpn: [String]? = nil,
        handshakeTimeout: Duration, upstream: String, metrics: UpstreamTLSMetrics?, onSession: ((TLSSession) -> Void)? = nil
    ) throws(TLSError) {
        engine = try TLSEngine(client: context, serverName: serverName, session: session, alpn: alpn)
        lastSession = session
        self.handshakeTimeout = handshakeTimeout
        self.upstream = upstream
        self.metrics = metrics
        self.onSession = onSession
    }

    /// The facts of the completed handshake (nil while handshaking).
    var facts: TLSConnectionFacts? { engine.facts }

    /// Runs `body` once with the handshake's outcome: at once when it is known already.
    func whenHandshakeCompletes(_ body: @escaping (Outcome) -> Void) {
        if let outcome { body(outcome) } else { onOutcome = body }
    }

    private func settle(_ outcome: Outcome) {
        guard self.outcome == nil else { return }
        self.outcome = outcome
        switch outcome {
        case .success(let facts): metrics?.handshake(upstream: upstream, resumed: facts.resumed)
        case .failure(let error): metrics?.failure(upstream: upstream, reason: error.reason)
        }
        let body = onOutcome
        onOutcome = nil
        body?(outcome)
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        activePending = true
        start(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelDeadline()
        if outcome == nil {
            settle(.failure(engine.transportClosed() ?? TLSError(.unexpectedEOF, "connection closed during the handshake")))
        }
        for (_, promise) in waiting { promise?.fail(ChannelError.ioOnClosedChannel) }
        waiting = []
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelDeadline()
    }

    /// Sends the ClientHello and arms the handshake deadline.
    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: handshakeTimeout.timeAmount) {
            let (handler, context) = bound.value
            handler.deadline = nil
            guard handler.outcome == nil else { return }
            handler.fail(context: context, TLSError(.handshakeTimeout, "no complete handshake within \(ProxyError.format(handler.handshakeTimeout))"))
        }
        var nothing = context.channel.allocator.buffer(capacity: 0)
        receive(context: context, &nothing)
    }

    private func cancelDeadline() {
        deadline?.cancel()
        deadline = nil
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if closing { return }
        var bytes = TLSEngine.joining(&leftover, unwrapInboundIn(data))
        receive(context: context, &bytes)
    }

    /// Hands `bytes` to the engine, as far as it takes them; fires the plaintext inbound.
    private func receive(context: ChannelHandlerContext, _ bytes: inout ByteBuffer) {
        while true {
            let result: TLSEngine.ReceiveResult
            var plaintext: ByteBuffer
            do {
                (result, plaintext) = try engine.receive(&bytes, chunk: TLSServerHandler.plaintextChunk, allocator: context.channel.allocator)
            } catch {
                fail(context: context, error)
                return
            }
            engine.flushPendingOutput(to: context)
            if let session = engine.session, session !== lastSession {
                lastSession = session
                onSession?(session)
            }
            if result.handshakeCompleted {
                established(context: context)
                if closing { return }
            }
            if result.plaintext > 0 { receivedPlaintext = true }
            guard pass(result, plaintext, context: context) else { return }
            if result.plaintext == TLSServerHandler.plaintextChunk { continue }
            // A handshake that completed with records behind it in the same read: decrypt them now.
            if result.handshakeCompleted, bytes.readableBytes > 0 { continue }
            if bytes.readableBytes == 0 || result.consumed == 0 { break }
        }
        if bytes.readableBytes > 0 { leftover = bytes }
    }

    /// The handshake completed: report it, send what waited, let the handlers behind start.
    private func established(context: ChannelHandlerContext) {
        cancelDeadline()
        guard let facts = engine.facts else { return }
        settle(.success(facts))
        if closing { return }
        let queued = waiting
        waiting = []
        for (buffer, promise) in queued { send(context: context, buffer, promise: promise) }
        if flushWaiting || !queued.isEmpty {
            flushWaiting = false
            context.flush()
        }
        if activePending {
            activePending = false
            context.fireChannelActive()
        }
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        if closing {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        guard !engine.isHandshaking else {
            waiting.append((buffer, promise))
            return
        }
        send(context: context, buffer, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        if engine.isHandshaking, !closing {
            flushWaiting = true
            return
        }
        context.flush()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, !closing {
            closing = true
            cancelDeadline()
            if outcome == nil { settle(.failure(TLSError(.unexpectedEOF, "connection closed during the handshake"))) }
            engine.close()
            engine.flushPendingOutput(to: context)
        }
        context.close(mode: mode, promise: promise)
    }

    // MARK: Helpers

    private func send(context: ChannelHandlerContext, _ buffer: ByteBuffer, promise: EventLoopPromise<Void>?) {
        do {
            try engine.sendAndWrite(buffer, to: context, promise: promise)
        } catch {
            promise?.fail(error)
            fail(context: context, error)
        }
    }

    /// A TLS failure: counted (also one right after a TLS 1.3 handshake, before any response
    /// byte: that is how a server refuses the client certificate), told to the handlers behind
    /// (`errorCaught`, so an upstream connection can name it), the alert written, the channel closed.
    private func fail(context: ChannelHandlerContext, _ error: TLSError) {
        guard !closing else { return }
        closing = true
        cancelDeadline()
        if outcome == nil {
            settle(.failure(error))
        } else if !receivedPlaintext {
            metrics?.failure(upstream: upstream, reason: error.reason)
        }
        engine.flushPendingOutput(to: context)
        for (_, promise) in waiting { promise?.fail(error) }
        waiting = []
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension TLSClientHandler: Sendable {}
