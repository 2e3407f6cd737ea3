import SentinelReactor
import SentinelTLS

/// TLS under any driver: ciphertext from the downstream goes through `TLSEngine` and the
/// plaintext to the inner driver; the inner driver's downstream writes and closes go through
/// the engine; everything else (its upstream endpoints, deadlines, reading) passes unchanged.
/// The engine is used exactly as its NIO host uses it (receive / send / pending output), which
/// is the point: TLSEngine plugs under a reactor driver without a change.
///
/// Kept in the tests until the data path moves onto the reactor (then it becomes the TLS
/// driver of a module joining SentinelReactor and SentinelTLS).
final class TLSServerLayer: ConnectionDriver {
    let engine: TLSEngine
    let inner: any ConnectionDriver
    var innerStarted = false
    var failed = false

    init(engine: TLSEngine, inner: any ConnectionDriver) {
        self.engine = engine
        self.inner = inner
    }

    func start(_ io: inout DriverIO) {}  // the inner driver starts after the handshake

    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) {
        guard endpoint == .downstream else { return forward(&io) { inner.received(buffer, on: endpoint, &$0) } }
        var offset = 0
        let ciphertext = buffer.readable
        while !failed {
            let plain = io.makeBuffer()
            let result: TLSEngine.ReceiveResult
            do {
                result = try engine.receive(UnsafeRawBufferPointer(rebasing: ciphertext[offset...]), into: plain.writable)
            } catch {
                failed = true
                writeCiphertext(&io)  // the alert
                io.finish(.afterFlush)
                return
            }
            offset += result.consumed
            plain.commit(result.plaintext)
            if result.handshakeCompleted, !innerStarted {
                innerStarted = true
                forward(&io) { inner.start(&$0) }
            }
            if plain.readableBytes > 0 { forward(&io) { inner.received(plain, on: .downstream, &$0) } }
            if result.peerClosed {
                forward(&io) { inner.inputEnded(on: .downstream, &$0) }
                break
            }
            if offset == ciphertext.count && result.plaintext < plain.capacity { break }
        }
        writeCiphertext(&io)
    }

    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) {
        if endpoint == .downstream, engine.transportClosed() != nil, !innerStarted {
            io.finish(.reset)
            return
        }
        forward(&io) { inner.inputEnded(on: endpoint, &$0) }
    }

    func drained(_ endpoint: Endpoint, _ io: inout DriverIO) { forward(&io) { inner.drained(endpoint, &$0) } }
    func connected(_ endpoint: Endpoint, _ io: inout DriverIO) { forward(&io) { inner.connected(endpoint, &$0) } }
    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) { forward(&io) { inner.failed(endpoint, error, &$0) } }
    func deadlineReached(_ io: inout DriverIO) { forward(&io) { inner.deadlineReached(&$0) } }
    func drain(_ io: inout DriverIO) { forward(&io) { inner.drain(&$0) } }

    /// Runs the inner driver with its own DriverIO and translates its actions.
    private func forward(_ io: inout DriverIO, _ body: (inout DriverIO) -> Void) {
        var innerIO = DriverIO(now: io.now, pool: io.pool, session: io.session)
        body(&innerIO)
        for action in innerIO.actions {
            switch action {
            case .write(.downstream, let plain):
                var offset = 0
                let bytes = plain.readable
                while offset < bytes.count, !failed {
                    do {
                        offset += try engine.send(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                    } catch {
                        failed = true
                        io.finish(.reset)
                        return
                    }
                    writeCiphertext(&io)
                }
            case .close(.downstream, let mode), .finish(let mode):
                if mode != .reset {
                    engine.close()
                    writeCiphertext(&io)
                }
                if case .finish = action { io.finish(mode) } else { io.close(.downstream, mode) }
            default:
                append(action, to: &io)
            }
        }
        writeCiphertext(&io)
    }

    private func append(_ action: DriverAction, to io: inout DriverIO) {
        switch action {
        case .write(let e, let b): io.write(e, b)
        case .reading(let e, let on): io.setReading(e, on)
        case .deadline(let d): io.setDeadline(d)
        case .close(let e, let m): io.close(e, m)
        case .connect(let e, let a): io.connect(e, to: a)
        case .finish(let m): io.finish(m)
        }
    }

    /// Moves the engine's pending ciphertext into pooled buffers for the downstream.
    private func writeCiphertext(_ io: inout DriverIO) {
        while engine.pendingOutputCount > 0 {
            let b = io.makeBuffer()
            let n = engine.withPendingOutput { b.append($0) }
            engine.consumeOutput(n)
            io.write(.downstream, b)
        }
    }
}
