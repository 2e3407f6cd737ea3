import NIOCore
import SentinelReactor
import SentinelTLS

#if canImport(Glibc)
import Glibc
#endif

/// An upstream connection's link on Sentinel's reactor: an endpoint of the session it is
/// attached to (`ReactorUpstreamSite`), or, while idle in the pool, a socket parked with the
/// reactor. Bytes cross without a copy (`ReactorBytes`): the socket is read straight into a
/// `ByteBuffer` (`receive`), and large writes hand the `ByteBuffer`'s storage to the reactor.
final class ReactorUpstreamLink: UpstreamLink {
    enum State {
        case connecting
        case attached
        case parked
        case closed
    }

    unowned let transport: ReactorUpstreamTransport
    weak var pool: UpstreamPool?
    let key: UpstreamPool.Key
    let address: UpstreamAddress
    let generation: UInt64
    /// The upstream's TLS (nil: plain TCP); its engine once TCP is up.
    let tls: UpstreamTLS?
    var tlsClient: ReactorTLSClient?
    private(set) var state = State.connecting
    /// The connection this link carries (from the connect on; nil once closed).
    private(set) var connection: UpstreamConnection?
    /// Reports the connect's outcome, once.
    private var done: ((UpstreamPool.Acquired) -> Void)?
    var connectTimer: (any UpstreamTimer)?
    /// The session holding the socket and its endpoint number there (while connecting or attached).
    private(set) var site: ReactorUpstreamSite?
    private(set) var endpoint = Endpoint(0)
    /// The socket while it is parked.
    private var parkedSocket: ParkedSocket?
    /// Bytes handed to the reactor since the endpoint last drained.
    private var queued = 0
    private var writable = true
    /// The size of the next read (kept across sessions: a pooled connection remembers what its
    /// responses are like).
    private var readSize = ReadSize(initial: 16 * 1024)

    init(
        transport: ReactorUpstreamTransport, pool: UpstreamPool, key: UpstreamPool.Key, address: UpstreamAddress,
        generation: UInt64, tls: UpstreamTLS? = nil, done: @escaping (UpstreamPool.Acquired) -> Void
    ) {
        self.tls = tls
        self.transport = transport
        self.pool = pool
        self.key = key
        self.address = address
        self.generation = generation
        self.done = done
    }

    func attached(to site: ReactorUpstreamSite, as endpoint: Endpoint, connecting: Bool) {
        self.site = site
        self.endpoint = endpoint
        state = connecting ? .connecting : .attached
        queued = 0
        writable = true
    }

    private var reactor: Reactor { transport.reactor }

    // MARK: - UpstreamLink

    func write(_ buffer: ByteBuffer) {
        guard state == .attached, let site else { return }
        if tlsClient != nil {
            sendTLS(buffer)
            return
        }
        queued += buffer.readableBytes
        var tail: IOBuffer?
        let reactor = self.reactor
        let endpoint = self.endpoint
        ReactorBytes.handOver(buffer, pool: reactor.pool, tail: &tail) { reactor.act(.write(endpoint, $0), session: site.session) }
        if let tail { reactor.act(.write(endpoint, tail), session: site.session) }
        checkWritability()
    }

    private func checkWritability() {
        if writable, queued > transport.highWater {
            writable = false
            connection?.writabilityChanged(false)
        }
    }

    /// Queues the TLS engine's pending output (records, alerts, close_notify) on the endpoint.
    func writeCiphertext() {
        guard let engine = tlsClient?.engine, engine.pendingOutputCount > 0, let site else { return }
        while engine.pendingOutputCount > 0 {
            let chunk = reactor.pool.take()
            let n = engine.withPendingOutput { chunk.append($0) }
            engine.consumeOutput(n)
            queued += n
            reactor.act(.write(endpoint, chunk), session: site.session)
        }
        if state == .attached { checkWritability() }
    }

    /// Still carrying an exchange (not closed, parked or failed meanwhile).
    var isUsable: Bool { state == .attached && connection != nil }

    func writeAndFlush(_ buffer: ByteBuffer) { write(buffer) }

    /// Written bytes leave when the current driver call returns (one writev per endpoint).
    func flush() {}

    func setReading(_ on: Bool) {
        guard state == .attached, let site else { return }
        reactor.act(.reading(endpoint, on), session: site.session)
    }

    func close() {
        switch state {
        case .closed:
            return
        case .parked:
            // `onClose` reports the end.
            parkedSocket?.close()
        case .connecting:
            connectTimer?.cancel()
            connectTimer = nil
            leaveSite(closing: .reset)
            state = .closed
            pool?.openFailed(key)
            report(.failure(.connectFailed(IOError(errnoCode: ECANCELED, reason: "connect"))))
        case .attached:
            let mode: SentinelReactor.CloseMode = queued > 0 ? .reset : .afterFlush
            if let client = tlsClient, mode == .afterFlush {
                client.engine.close()
                writeCiphertext()
            }
            leaveSite(closing: mode)
            ended()
        }
    }

    func park() {
        guard state == .attached, let site else { return }
        let socket = ParkedSocket()
        socket.onClose = { [weak self] in self?.ended() }
        parkedSocket = socket
        state = .parked
        let session = site.session
        site.release(endpoint)
        self.site = nil
        // A socket that is not clean (unread bytes, end of file) is closed instead: `onClose`.
        reactor.park(session: session, endpoint, into: socket)
    }

    func attach(to site: (any UpstreamSite)?) -> Bool {
        guard state == .parked, let socket = parkedSocket, socket.state == .parked, let site = site as? ReactorUpstreamSite,
            let endpoint = site.allocate(self)
        else { return false }
        socket.onClose = nil
        parkedSocket = nil
        attached(to: site, as: endpoint, connecting: false)
        // A failed adoption reaches the site as `failed(endpoint)`: the connection closes then.
        reactor.adopt(socket, session: site.session, as: endpoint)
        return true
    }

    // MARK: - Events (forwarded by the site)

    func connected() {
        guard state == .connecting, tlsClient == nil else { return }
        if let tls {
            // Handed over once the handshake completed (still inside the connect deadline).
            startTLS(tls)
            return
        }
        established()
    }

    /// The connection is ready (TCP up, and the TLS handshake done when there is one).
    func established() {
        guard state == .connecting, let pool else { return }
        connectTimer?.cancel()
        connectTimer = nil
        state = .attached
        let connection = UpstreamConnection(
            link: self, key: key, createdNanos: pool.clock.monotonicNanos(), tlsContext: tls?.context, address: address,
            generation: generation)
        connection.pool = pool
        self.connection = connection
        report(.success((connection, false)))
    }

    /// The connect (or its handshake) failed: the endpoint closes, the pool's slot is given
    /// back, the exchange hears `error`.
    func failConnect(_ error: UpstreamPool.AcquireError, closing mode: SentinelReactor.CloseMode) {
        guard state == .connecting else { return }
        connectTimer?.cancel()
        connectTimer = nil
        leaveSite(closing: mode)
        state = .closed
        pool?.openFailed(key)
        report(.failure(error))
    }

    /// Ends an established connection now (after what is queued, for `.afterFlush`).
    func abort(closing mode: SentinelReactor.CloseMode) {
        guard state == .attached else { return }
        leaveSite(closing: mode)
        ended()
    }

    func connectTimedOut() {
        connectTimer = nil
        guard state == .connecting else { return }
        if tlsClient != nil {
            // TCP is up; the handshake did not finish in time (as NIO's handshake timeout).
            let error = TLSError(.handshakeTimeout, "no complete handshake within the connect timeout")
            pool?.tlsMetrics?.failure(upstream: tls?.upstream ?? "", reason: error.reason)
            failConnect(.tlsHandshake(error), closing: .reset)
            return
        }
        failConnect(.connectTimeout, closing: .reset)
    }

    func failed(_ error: ReactorError) {
        // The reactor closed the endpoint already.
        site?.release(endpoint)
        site = nil
        switch state {
        case .connecting:
            connectTimer?.cancel()
            connectTimer = nil
            state = .closed
            pool?.openFailed(key)
            if tlsClient != nil {
                let e = TLSError(.unexpectedEOF, "connection failed during the handshake (\(error))")
                pool?.tlsMetrics?.failure(upstream: tls?.upstream ?? "", reason: e.reason)
                report(.failure(.tlsHandshake(e)))
                return
            }
            report(.failure(.connectFailed(IOError(errnoCode: error.errno == 0 ? EIO : error.errno, reason: "\(error.operation)"))))
        case .attached:
            ended()
        case .parked, .closed:
            return
        }
    }

    /// Bytes played as a reactor buffer (a driver that does not read into its own memory, tests):
    /// copied once into a `ByteBuffer`.
    func received(_ buffer: IOBuffer) {
        deliver(transport.allocator.buffer(bytes: buffer.readable))
    }

    /// The socket is readable: read it straight into a `ByteBuffer` (no copy after the kernel's).
    func receive(_ read: inout SocketRead) {
        guard let bytes = ReactorBytes.read(&read, size: &readSize, allocator: transport.allocator) else { return }
        deliver(bytes)
    }

    private func deliver(_ bytes: ByteBuffer) {
        if tlsClient != nil {
            guard state == .attached || state == .connecting else { return }
            var bytes = bytes
            receiveTLS(&bytes)
            return
        }
        guard state == .attached, let connection else { return }
        connection.received(bytes)
        // The connection may have closed or been released meanwhile.
        self.connection?.readComplete()
    }

    /// The upstream's end of file: as on NIO (no half-closure), the connection closes.
    func inputEnded() {
        if state == .connecting, let client = tlsClient {
            tlsFailed(client.engine.transportClosed() ?? TLSError(.unexpectedEOF, "connection closed during the handshake"))
            return
        }
        peerEnded()
    }

    func peerEnded() {
        guard state == .attached else { return }
        leaveSite(closing: .afterFlush)
        ended()
    }

    func drained() {
        guard state == .attached else { return }
        queued = 0
        if !writable {
            writable = true
            connection?.writabilityChanged(true)
        }
    }

    // MARK: - Helpers

    func leaveSite(closing mode: SentinelReactor.CloseMode) {
        guard let site else { return }
        site.release(endpoint)
        self.site = nil
        reactor.act(.close(endpoint, mode), session: site.session)
    }

    /// The connection is gone: tell it (its exchange hears `upstreamClosed`) and give its slot
    /// back to the pool, once.
    func ended() {
        guard state != .closed else { return }
        state = .closed
        parkedSocket = nil
        let connection = self.connection
        self.connection = nil
        guard let connection else { return }
        connection.closed()
        pool?.forget(connection)
    }

    private func report(_ result: UpstreamPool.Acquired) {
        let done = self.done
        self.done = nil
        done?(result)
    }
}

@available(*, unavailable)
extension ReactorUpstreamLink: Sendable {}
