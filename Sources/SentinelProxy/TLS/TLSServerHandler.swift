import NIOCore
import SentinelTLS

/// Hosts one `TLSEngine` (server role) in front of the connection's HTTP handler: ciphertext
/// from the socket in, plaintext fired inbound; plaintext written by the HTTP handler out as
/// records; close_notify on close.
///
/// It exists so the HTTP/1 connection handler stays the same on HTTP and HTTPS listeners: it
/// sees plaintext `ByteBuffer`s either way. The engine is sans-I/O, so this handler is the only
/// NIO-specific part of TLS; it owns the handshake deadline (the engine has no timers).
///
/// A failed handshake (or any TLS failure) writes the alert the engine queued, then closes.
final class TLSServerHandler: ChannelDuplexHandler, RemovableChannelHandler, TLSChannelEnd {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Plaintext bytes decrypted per buffer fired inbound: one full record fits.
    static let plaintextChunk = 16 * 1024 + 256

    let engine: TLSEngine
    private let handshakeTimeout: Duration
    private var deadline: Scheduled<Void>?
    /// Ciphertext the engine has not taken yet (rare: only when the plaintext buffer filled).
    private var leftover: ByteBuffer?
    var closing = false
    /// Counts handshakes and failures (nil: not counted).
    private let metrics: TLSMetrics?
    private let listenerID: String
    /// Set once the connection failed at the TLS layer (counted once).
    private(set) var failure: TLSError?

    /// The process's bound on handshakes in flight, and its limit at accept (nil: unbounded).
    private let gate: (gate: HandshakeGate, limit: Int)?
    private var slot = HandshakeSlot.none
    /// A `read` asked for while waiting for a slot, passed on when one is granted.
    private var pendingRead = false

    init(tls: ListenerTLS, listenerID: String, metrics: TLSMetrics?, gate: (HandshakeGate, Int)? = nil) throws {
        engine = try TLSEngine(server: tls.contexts)
        handshakeTimeout = tls.handshakeTimeout
        self.listenerID = listenerID
        self.metrics = metrics
        self.gate = gate.map { (gate: $0.0, limit: $0.1) }
    }

    /// True while the connection waits for a handshake slot (nothing is read meanwhile).
    var isWaitingForSlot: Bool { slot.isWaiting }

    private func failed(_ error: TLSError) {
        guard failure == nil else { return }
        failure = error
        metrics?.failure(listener: listenerID, reason: error.reason)
    }

    /// The facts of the completed handshake (nil while handshaking).
    var facts: TLSConnectionFacts? { engine.facts }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive {
            armDeadline(context: context)
            takeSlot(context: context)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        armDeadline(context: context)
        takeSlot(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        releaseSlot()
        if failure == nil {
            if engine.isHandshaking {
                // Cut off during the handshake, by the peer or by us (a timeout of the HTTP side).
                failed(engine.transportClosed() ?? TLSError(.unexpectedEOF, "connection closed during the handshake"))
            } else if !closing, let error = engine.transportClosed(), error.reason != .unexpectedEOF {
                // A client closing an open connection without close_notify is common and harmless
                // for HTTP/1 (each message is delimited); other failures count.
                failed(error)
            }
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        releaseSlot()
    }

    // MARK: Handshake slot

    private func takeSlot(context: ChannelHandlerContext) {
        guard case .none = slot else { return }
        guard let gate else {
            slot = .held
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        if let id = gate.gate.acquire(limit: gate.limit, onGrant: {
            loop.execute {
                let (handler, context) = bound.value
                handler.slotGranted(context: context)
            }
        }) {
            slot = .waiting(id)
            metrics?.waited(listener: listenerID)
        } else {
            slot = .held
        }
    }

    private func slotGranted(context: ChannelHandlerContext) {
        guard case .waiting = slot, !closing, context.channel.isActive else {
            // Closed meanwhile: the slot goes straight to the next waiter.
            gate?.gate.release()
            return
        }
        slot = .held
        if let waiting = leftover {
            leftover = nil
            receive(context: context, waiting)
        }
        if pendingRead, !closing {
            pendingRead = false
            context.read()
        }
    }

    /// Gives the slot back (handshake over or connection closed), or stops waiting for one.
    private func releaseSlot() {
        slot.release(gate?.gate)
    }

    func read(context: ChannelHandlerContext) {
        if case .waiting = slot {
            pendingRead = true
            return
        }
        context.read()
    }

    private func armDeadline(context: ChannelHandlerContext) {
        guard deadline == nil, engine.isHandshaking else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: handshakeTimeout.timeAmount) {
            let (handler, context) = bound.value
            handler.handshakeExpired(context: context)
        }
    }

    private func handshakeExpired(context: ChannelHandlerContext) {
        deadline = nil
        guard engine.isHandshaking, !closing else { return }
        closing = true
        let waited = isWaitingForSlot ? " (waiting for a handshake slot: limits max-tls-handshakes)" : ""
        failed(TLSError(.handshakeTimeout, "no complete handshake within \(handshakeTimeout)\(waited)"))
        releaseSlot()
        context.close(promise: nil)
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if closing { return }
        let bytes = TLSEngine.joining(&leftover, unwrapInboundIn(data))
        if isWaitingForSlot {
            // A read already under way when the wait began: kept until a slot is granted.
            leftover = bytes
            return
        }
        receive(context: context, bytes)
    }

    private func receive(context: ChannelHandlerContext, _ input: ByteBuffer) {
        var bytes = input
        while true {
            let result: TLSEngine.ReceiveResult
            var plaintext: ByteBuffer
            do {
                (result, plaintext) = try engine.receive(&bytes, chunk: Self.plaintextChunk, allocator: context.channel.allocator)
            } catch {
                fail(context: context, error)
                return
            }
            if result.handshakeCompleted {
                deadline?.cancel()
                deadline = nil
                releaseSlot()
                metrics?.handshake(listener: listenerID, resumed: engine.facts?.resumed ?? false)
                // The HTTP side reads the facts from the connection (header variables, access log).
                if let facts = engine.facts { context.fireUserInboundEventTriggered(ConnectionTLS(facts: facts)) }
            }
            engine.flushPendingOutput(to: context)
            guard pass(result, plaintext, context: context) else { return }
            if result.plaintext == Self.plaintextChunk { continue }
            if bytes.readableBytes == 0 || result.consumed == 0 { break }
        }
        if bytes.readableBytes > 0 { leftover = bytes }
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        guard !engine.isHandshaking else {
            promise?.fail(TLSError(.invalidState, "write before the handshake completed"))
            return
        }
        do {
            try engine.sendAndWrite(buffer, to: context, promise: promise)
        } catch {
            promise?.fail(error)
            fail(context: context, error)
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, !closing {
            closing = true
            engine.close()
            engine.flushPendingOutput(to: context)
        }
        context.close(mode: mode, promise: promise)
    }

    // MARK: Helpers

    private func fail(context: ChannelHandlerContext, _ error: TLSError) {
        guard !closing else { return }
        closing = true
        deadline?.cancel()
        deadline = nil
        releaseSlot()
        failed(error)
        engine.flushPendingOutput(to: context)
        context.close(promise: nil)
    }
}
