import NIOCore
import SentinelReactor
import SentinelTLS

/// An HTTPS listener's connection on the reactor: a `ConnectionDriver` that runs one
/// `TLSEngine` (server role, unchanged) under the connection's `HTTP1ReactorDriver`, as
/// `TLSServerHandler` runs it under `ProxyConnectionHandler` on NIO. Ciphertext from the
/// client goes through the engine and the plaintext to the inner driver; the inner driver's
/// writes to the client are encrypted and its clean closes send close_notify; everything else
/// (its upstream endpoints, reading, its deadline) passes through, merged with what the layer
/// needs itself.
///
/// Same behaviour as on NIO, decision by decision:
/// - The HTTP side starts at accept (its header timeout runs from there); its writes before the
///   handshake completed are dropped (NIO fails them).
/// - The handshake deadline (`ListenerTLS.handshakeTimeout`) is the layer's own; the session's
///   single deadline is the earlier of it and the inner driver's.
/// - `limits { max-tls-handshakes }`: a connection over the process's bound waits unread for a
///   slot of the shared `HandshakeGate` (the same gate as NIO's: one bound per process) under
///   the same deadline; the grant arrives through the loop's mailbox and wakes the session.
/// - SNI, ALPN, client certificates, tickets and OCSP are the engine's (its contexts' callbacks).
/// - Completed handshakes and failures are counted in `TLSMetrics` under the listener, once;
///   the connection's facts (`ConnectionTLS`) reach the HTTP side before its first plaintext.
/// - close_notify from the client is answered with ours and ends the connection (no half-closed
///   TLS); a client's end of file without one on an open connection is not a failure.
final class ReactorTLSServer: ConnectionDriver {
    let engine: TLSEngine
    let inner: HTTP1ReactorDriver
    private let listenerID: String
    private let metrics: TLSMetrics?
    private let handshakeMilliseconds: UInt64
    /// The shared gate and this listener's limit at accept (nil: unbounded).
    let gate: (gate: HandshakeGate, limit: Int)?
    var slot = HandshakeSlot.none
    /// The handshake deadline (nil once completed or not armed yet) and the inner driver's.
    private var handshakeDeadline: ReactorInstant?
    private var innerDeadline: ReactorInstant?
    /// The session deadline last handed to the reactor.
    private var sessionDeadline: ReactorInstant?
    /// Read interest as the inner driver wants it, and as last handed to the reactor.
    private var innerReading = true
    private var reading = true
    /// Ciphertext the engine did not take yet (the plaintext buffer filled first).
    private var leftover: [UInt8] = []
    /// The connection is ending at the TLS layer: the inner driver's writes are dropped.
    private var closing = false
    var isClosing: Bool { closing }
    /// A handshake slot was granted while waiting: `woken` resumes reading.
    var grantArrived = false
    /// Counted once: the connection failed at the TLS layer.
    private(set) var failure: TLSError?
    /// Reused action list of the inner driver's calls (no allocation per event).
    private var scratch: [DriverAction] = []
    /// The session was told to finish: nothing more is handed to the reactor.
    private var finished = false

    /// Plaintext per buffer handed to the inner driver: at most one record's worth.
    static let plaintextChunk = 16 * 1024

    init(tls: ListenerTLS, inner: HTTP1ReactorDriver, listenerID: String, metrics: TLSMetrics?, gate: (HandshakeGate, Int)?) throws(TLSError) {
        engine = try TLSEngine(server: tls.contexts)
        self.inner = inner
        self.listenerID = listenerID
        self.metrics = metrics
        let d = tls.handshakeTimeout.components
        handshakeMilliseconds = UInt64(max(0, d.seconds)) * 1000 + UInt64(max(0, d.attoseconds) / 1_000_000_000_000_000)
        self.gate = gate.map { (gate: $0.0, limit: $0.1) }
        scratch.reserveCapacity(8)
    }

    /// The session ended: a slot held or waited for goes back to the gate.
    deinit { releaseSlot() }

    func metricsWaited() { metrics?.waited(listener: listenerID) }

    private func failed(_ error: TLSError) {
        guard failure == nil else { return }
        failure = error
        metrics?.failure(listener: listenerID, reason: error.reason)
    }

    // MARK: - ConnectionDriver

    func start(_ io: inout DriverIO) {
        // As on NIO: the HTTP side is active from accept (its header timeout runs).
        forward(&io) { inner.start(&$0) }
        handshakeDeadline = io.now.adding(milliseconds: max(1, handshakeMilliseconds))
        takeSlot(session: io.session)
        sync(&io)
    }

    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) {
        guard endpoint == .downstream else { return forward(&io) { inner.received(buffer, on: endpoint, &$0) } }
        guard !closing else { return }
        if slot.isWaiting || !leftover.isEmpty {
            // A read already under way when the wait began, or what an earlier read left.
            _ = buffer.readable.withMemoryRebound(to: UInt8.self) { leftover.append(contentsOf: $0) }
            if slot.isWaiting { return }
            let bytes = leftover
            leftover.removeAll()
            bytes.withUnsafeBytes { receive($0, &io) }
        } else {
            receive(buffer.readable, &io)
        }
        sync(&io)
    }

    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) {
        guard endpoint == .downstream else { return forward(&io) { inner.inputEnded(on: endpoint, &$0) } }
        transportEnded()
        forward(&io) { inner.inputEnded(on: .downstream, &$0) }
    }

    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) {
        if endpoint == .downstream { transportEnded() }
        forward(&io) { inner.failed(endpoint, error, &$0) }
    }

    func drained(_ endpoint: Endpoint, _ io: inout DriverIO) { forward(&io) { inner.drained(endpoint, &$0) } }
    func connected(_ endpoint: Endpoint, _ io: inout DriverIO) { forward(&io) { inner.connected(endpoint, &$0) } }
    func drain(_ io: inout DriverIO) { forward(&io) { inner.drain(&$0) } }

    func deadlineReached(_ io: inout DriverIO) {
        sessionDeadline = nil
        if let h = handshakeDeadline, h <= io.now, engine.isHandshaking, !closing {
            handshakeDeadline = nil
            let waited = slot.isWaiting ? " (waiting for a handshake slot: limits max-tls-handshakes)" : ""
            failed(TLSError(.handshakeTimeout, "no complete handshake within \(handshakeMilliseconds) ms\(waited)"))
            releaseSlot()
            end(&io)
            return
        }
        if let d = innerDeadline, d <= io.now {
            innerDeadline = nil
            forward(&io) { inner.deadlineReached(&$0) }
        } else {
            sync(&io)
        }
    }

    func woken(_ io: inout DriverIO) {
        if grantArrived {
            grantArrived = false
            if !leftover.isEmpty, !closing {
                let bytes = leftover
                leftover.removeAll()
                bytes.withUnsafeBytes { receive($0, &io) }
            }
        }
        forward(&io) { inner.woken(&$0) }
    }

    // MARK: - Inbound

    /// Feeds ciphertext to the engine; plaintext, the handshake's completion and close_notify
    /// to the inner driver.
    private func receive(_ ciphertext: UnsafeRawBufferPointer, _ io: inout DriverIO) {
        var offset = 0
        while !closing {
            let plain = io.makeBuffer()
            let result: TLSEngine.ReceiveResult
            do {
                result = try engine.receive(
                    UnsafeRawBufferPointer(rebasing: ciphertext[offset...]),
                    into: UnsafeMutableRawBufferPointer(rebasing: plain.writable.prefix(Self.plaintextChunk)))
            } catch {
                failed(error)
                end(&io)  // the alert the engine queued leaves first
                return
            }
            offset += result.consumed
            plain.commit(result.plaintext)
            if result.handshakeCompleted {
                handshakeDeadline = nil
                releaseSlot()
                metrics?.handshake(listener: listenerID, resumed: engine.facts?.resumed ?? false)
                // The HTTP side reads the facts from the connection (header variables, access log).
                if let facts = engine.facts { inner.connection.connectionTLS = ConnectionTLS(facts: facts) }
            }
            writeCiphertext(&io)
            if plain.readableBytes > 0 { forward(&io) { inner.received(plain, on: .downstream, &$0) } }
            if result.peerClosed, !closing {
                // close_notify: answer with ours and end, as a plain connection's end of file.
                closing = true
                engine.close()
                writeCiphertext(&io)
                forward(&io) { inner.inputEnded(on: .downstream, &$0) }
                return
            }
            if result.plaintext == Self.plaintextChunk { continue }
            if result.handshakeCompleted, offset < ciphertext.count { continue }
            if offset == ciphertext.count || result.consumed == 0 { break }
        }
        if offset < ciphertext.count, !closing { leftover.append(contentsOf: ciphertext[offset...]) }
    }

    /// The client's socket ended (end of file or reset): a failure when cut off mid-handshake,
    /// counted once, as NIO's `channelInactive`.
    private func transportEnded() {
        releaseSlot()
        guard failure == nil else { return }
        if engine.isHandshaking {
            failed(engine.transportClosed() ?? TLSError(.unexpectedEOF, "connection closed during the handshake"))
        } else if !closing, let error = engine.transportClosed(), error.reason != .unexpectedEOF {
            failed(error)
        }
        closing = true
    }

    /// Ends the connection from the TLS side (a failure, the handshake deadline): the pending
    /// alert leaves, the inner driver hears the connection closed and finishes the session.
    private func end(_ io: inout DriverIO) {
        closing = true
        writeCiphertext(&io)
        forward(&io) { inner.inputEnded(on: .downstream, &$0) }
    }

    // MARK: - The inner driver's actions

    /// Runs the inner driver with its own `DriverIO` and translates its actions.
    private func forward(_ io: inout DriverIO, _ body: (inout DriverIO) -> Void) {
        var innerIO = DriverIO(now: io.now, pool: io.pool, session: io.session, storage: &scratch)
        body(&innerIO)
        innerIO.takeActions(into: &scratch)
        for action in scratch {
            switch action {
            case .write(.downstream, var plain):
                send(plain, &io)
                io.pool.give(&plain)
            case .close(.downstream, let mode):
                closeNotify(mode, &io)
                io.close(.downstream, mode)
            case .finish(let mode):
                closeNotify(mode, &io)
                writeCiphertext(&io)
                finished = true
                handshakeDeadline = nil
                io.finish(mode)
            case .reading(.downstream, let on):
                innerReading = on
            case .deadline(let d):
                innerDeadline = d
            case .write(let e, let b): io.write(e, b)
            case .reading(let e, let on): io.setReading(e, on)
            case .close(let e, let m): io.close(e, m)
            case .connect(let e, let a): io.connect(e, to: a)
            }
        }
        scratch.removeAll(keepingCapacity: true)
        writeCiphertext(&io)
        sync(&io)
    }

    /// Encrypts the inner driver's plaintext for the client (dropped before the handshake
    /// completed and once the connection is ending, as NIO fails such writes).
    private func send(_ plain: IOBuffer, _ io: inout DriverIO) {
        guard !closing, !engine.isHandshaking else { return }
        let bytes = plain.readable
        var offset = 0
        while offset < bytes.count {
            do {
                offset += try engine.send(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            } catch {
                failed(error)
                closing = true
                return
            }
            writeCiphertext(&io)
        }
    }

    /// A clean close of the client's side queues close_notify first (a reset sends nothing).
    private func closeNotify(_ mode: SentinelReactor.CloseMode, _ io: inout DriverIO) {
        guard mode == .afterFlush, failure == nil, !engine.isHandshaking else { return }
        closing = true
        engine.close()
        writeCiphertext(&io)
    }

    /// Moves the engine's pending ciphertext into pooled buffers for the client.
    private func writeCiphertext(_ io: inout DriverIO) {
        guard !finished else { return }
        while engine.pendingOutputCount > 0 {
            let b = io.makeBuffer()
            let n = engine.withPendingOutput { b.append($0) }
            engine.consumeOutput(n)
            io.write(.downstream, b)
        }
    }

    /// Hands the merged read interest and deadline to the reactor when they changed.
    private func sync(_ io: inout DriverIO) {
        guard !finished else { return }
        let want = innerReading && !slot.isWaiting
        if want != reading {
            reading = want
            io.setReading(.downstream, want)
        }
        let deadline: ReactorInstant? =
            switch (handshakeDeadline, innerDeadline) {
            case (let a?, let b?): min(a, b)
            case (let a?, nil): a
            case (nil, let b): b
            }
        if deadline != sessionDeadline {
            sessionDeadline = deadline
            io.setDeadline(deadline)
        }
    }
}

@available(*, unavailable)
extension ReactorTLSServer: Sendable {}
