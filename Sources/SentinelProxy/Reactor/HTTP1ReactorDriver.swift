import NIOCore
import SentinelReactor

#if canImport(Glibc)
import Glibc
#endif

/// The HTTP/1 connection on Sentinel's reactor: a `ConnectionDriver` (bytes and socket events
/// in, actions out) hosting the same connection logic as the NIO path (`ProxyConnectionHandler`
/// with its machine, admission phases, local answers, head writers, exchanges, accounting and
/// access log). It is the connection's host (through `ReactorHTTP1Host`, which holds it
/// weakly: the session owns the driver, the driver the connection): what the connection writes, closes or arms
/// during an event is collected here and handed to the reactor as actions when the event's
/// callback returns; anything the connection does outside an event (an answer that arrived from
/// another thread, a timer of a per-loop service) is collected the same way and handed over
/// through `Reactor.wake(session:)`.
///
/// Bytes cross between the reactor and the connection's `ByteBuffer`s without a copy: the
/// driver reads its sockets straight into `ByteBuffer`s (`readsIntoOwnMemory`), and hands large
/// output to the reactor as borrowed storage (`ReactorBytes`). Only when another driver wraps
/// this one (a TLS layer) do bytes arrive as `IOBuffer`s, copied once (`received`).
final class HTTP1ReactorDriver: ConnectionDriver {
    let connection: ProxyConnectionHandler
    let services: ReactorLoopServices
    /// The session's upstream connections (endpoints other than `.downstream`): their events are
    /// forwarded there, inside `enter`/`leave` like the client's (see `ReactorUpstreamSite`).
    let upstreams = ReactorUpstreamSite()
    let listenerAddress: (ip: String, port: Int)?
    /// Counts this connection while it lives (nil in tests without a data plane).
    let connections: ReactorConnectionCount?

    /// Output queued by the connection since the last hand-over, and whether a flush was asked.
    private var output: [ByteBuffer] = []
    private var flushRequested = false
    /// Bytes handed to the reactor and not yet drained (the client's send queue).
    private var unsent = 0
    private var writable = true
    /// Read interest as last told to the reactor.
    private var reading = true
    /// The timer as the connection armed it (ns), and whether it changed since the hand-over.
    private var timerNanos: UInt64?
    private var timerChanged = false
    /// How the connection asked to end (nil: open).
    private var ending: SentinelReactor.CloseMode?
    /// The session was told to finish.
    private var ended = false
    /// The connection was told it is closed (`peerClosed`), once.
    private var closeNotified = false
    /// Output not yet handed over is dropped (a close, not a close after the writes).
    private var dropOutput = false
    /// The session's token, for `wake` (known from the first event on).
    private var session: UInt64 = 0
    /// A wake was requested and not yet delivered.
    private var wakeRequested = false
    /// Inside a driver callback (actions are handed over when it returns).
    private var inCallback = false
    /// The size of the next read from the client.
    private var readSize = ReadSize()
    /// A `proxy-protocol` listener's connection until its header is read (ProxyProtocolGate).
    private var proxyGate: ProxyProtocolGate?
    private let proxyMetrics: ProxyProtocolMetrics

    /// The client's send queue above which the connection counts as not writable (as NIO's
    /// high watermark, `ProxyServer.writeWaterMark`); writable again once drained.
    static let highWater = 128 * 1024

    init(
        services: ReactorLoopServices, shared: ServerShared, listenerID: String, peer: SentinelReactor.SocketAddress?,
        listenerAddress: (ip: String, port: Int)?, connections: ReactorConnectionCount? = nil
    ) {
        self.connections = connections
        self.services = services
        self.listenerAddress = listenerAddress
        connection = ProxyConnectionHandler(
            shared: shared, listenerID: listenerID, routeCache: services.routeCache, pool: services.pool,
            accessLog: services.accessLog)
        if let peer {
            connection.clientIP = peer.hostText
            connection.clientIPBytes = peer.addressBytes
            connection.clientIsIPv6 = peer.family == AF_INET6
        }
        output.reserveCapacity(4)
        proxyMetrics = shared.metrics.proxyProtocol
        if shared.snapshot.listener(id: listenerID)?.proxyProtocol == true { proxyGate = ProxyProtocolGate() }
        connection.host = ReactorHTTP1Host(driver: self)
    }

    /// The session ended (the reactor let go of its driver).
    deinit { connections?.closed() }

    // MARK: - ConnectionDriver

    func start(_ io: inout DriverIO) {
        enter(&io)
        connection.opened()
        if proxyGate != nil, !ProxyProtocolGate.admits(connection.clientIPBytes, policy: connection.shared.snapshot.forwarding) {
            proxyMetrics.untrustedPeer()
            ending = .afterFlush
        }
        leave(&io)
    }

    var readsIntoOwnMemory: Bool { true }

    func receive(on endpoint: Endpoint, _ read: inout SocketRead, _ io: inout DriverIO) {
        guard endpoint == .downstream else {
            guard let link = upstreams.link(endpoint) else {
                // Not an endpoint of ours any more: read and drop.
                var scratch = io.makeBuffer()
                _ = read.read(into: scratch.writable)
                io.pool.give(&scratch)
                return
            }
            enter(&io)
            link.receive(&read)
            leave(&io)
            return
        }
        guard let bytes = ReactorBytes.read(&read, size: &readSize, allocator: services.allocator) else { return }
        enter(&io)
        if proxyGate != nil { proxyHeader(bytes) } else { connection.received(bytes) }
        leave(&io)
    }

    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) {
        guard endpoint == .downstream else { return upstream(&io) { $0.received(buffer, on: endpoint) } }
        enter(&io)
        let bytes = services.allocator.buffer(bytes: buffer.readable)
        if proxyGate != nil { proxyHeader(bytes) } else { connection.received(bytes) }
        leave(&io)
    }

    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) {
        guard endpoint == .downstream else { return upstream(&io) { $0.inputEnded(on: endpoint) } }
        enter(&io)
        // As on NIO (no half-closure): the client's end of file ends the connection.
        notifyClosed()
        if ending == nil { ending = .afterFlush }
        leave(&io)
    }

    func drained(_ endpoint: Endpoint, _ io: inout DriverIO) {
        guard endpoint == .downstream else { return upstream(&io) { $0.drained(endpoint) } }
        enter(&io)
        unsent = 0
        if !writable {
            writable = true
            connection.writabilityChanged(true)
        }
        leave(&io)
    }

    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) {
        guard endpoint == .downstream else { return upstream(&io) { $0.failed(endpoint, error) } }
        enter(&io)
        notifyClosed()
        dropOutput = true
        ending = .reset
        leave(&io)
    }

    func connected(_ endpoint: Endpoint, _ io: inout DriverIO) {
        upstream(&io) { $0.connected(endpoint) }
    }

    /// An event of an upstream endpoint, handed to the site (whose connection tells its exchange).
    private func upstream(_ io: inout DriverIO, _ event: (ReactorUpstreamSite) -> Void) {
        enter(&io)
        event(upstreams)
        leave(&io)
    }

    func deadlineReached(_ io: inout DriverIO) {
        enter(&io)
        timerNanos = nil
        connection.deadlineTimerFired()
        leave(&io)
    }

    func drain(_ io: inout DriverIO) {
        enter(&io)
        connection.quiesce()
        leave(&io)
    }

    func woken(_ io: inout DriverIO) {
        enter(&io)
        wakeRequested = false
        leave(&io)
    }

    /// The first bytes of a `proxy-protocol` connection: the header, then what follows it.
    private func proxyHeader(_ bytes: ByteBuffer) {
        var bytes = bytes
        let step = bytes.withUnsafeReadableBytes { proxyGate!.feed($0) }
        proxyMetrics.count(step)
        switch step {
        case .needMore: return
        case .refuse: ending = .afterFlush
        case .done(let client, let consumed):
            proxyGate = nil
            if let client { connection.proxyClient(client) }
            if consumed < bytes.readableBytes {
                bytes.moveReaderIndex(forwardBy: consumed)
                connection.received(bytes)
            }
        }
    }

    /// Tells the connection it is closed (its exchange, its gauge, its machine), once.
    private func notifyClosed() {
        guard !closeNotified else { return }
        closeNotified = true
        connection.peerClosed()
    }

    private func enter(_ io: inout DriverIO) {
        session = io.session
        upstreams.session = io.session
        inCallback = true
    }

    /// Hands what the connection asked for during the callback to the reactor, in order:
    /// writes, read interest, the deadline, the end.
    private func leave(_ io: inout DriverIO) {
        inCallback = false
        if ended {
            // The session was finished already (its last bytes may still be leaving).
            output.removeAll(keepingCapacity: true)
            return
        }
        if dropOutput { output.removeAll(keepingCapacity: true) }
        if flushRequested || ending != nil { handOverOutput(&io) }
        if let mode = ending {
            ended = true
            notifyClosed()
            output.removeAll(keepingCapacity: true)
            // Upstream connections still attached close with the session (never reused).
            upstreams.closeAll()
            io.finish(mode)
            return
        }
        // The connection's read gating (`readRequested`) decides whether the socket is read,
        // as NIO asks it before every read.
        let want = connection.readRequested()
        if want != reading {
            reading = want
            io.setReading(.downstream, want)
        }
        if timerChanged {
            timerChanged = false
            io.setDeadline(timerNanos.map { ReactorInstant(milliseconds: $0 / 1_000_000 + ($0 % 1_000_000 == 0 ? 0 : 1)) })
        }
    }

    private func handOverOutput(_ io: inout DriverIO) {
        flushRequested = false
        var tail: IOBuffer?
        for buffer in output {
            unsent += buffer.readableBytes
            ReactorBytes.handOver(buffer, pool: io.pool, tail: &tail) { io.write(.downstream, $0) }
        }
        if let tail { io.write(.downstream, tail) }
        output.removeAll(keepingCapacity: true)
        if writable && unsent > Self.highWater {
            writable = false
            connection.writabilityChanged(false)
        }
    }

    /// Something happened outside a callback: ask the reactor to call back and hand it over.
    private func requestWake() {
        guard !inCallback, !wakeRequested, !ended, session != 0 else { return }
        wakeRequested = true
        let token = session
        services.reactor?.runSoon { [services] in services.reactor?.wake(session: token) }
    }

    // MARK: - What the connection asks of its host (through ReactorHTTP1Host)


    func write(_ buffer: ByteBuffer) {
        guard !ended, ending == nil else { return }
        output.append(buffer)
    }

    func flush() {
        guard !output.isEmpty else { return }
        flushRequested = true
        requestWake()
    }

    func readMore() {
        requestWake()
    }

    /// As NIO's close: what was not handed to the socket yet is dropped, the connection ends
    /// with a FIN once what the socket has is sent.
    func close() {
        dropOutput = true
        if ending == nil { ending = .afterFlush }
        requestWake()
    }

    func closeAfterWrites() {
        if ending == nil { ending = .afterFlush }
        requestWake()
    }

    func armTimer(at deadline: UInt64, now: UInt64) {
        timerNanos = deadline
        timerChanged = true
        requestWake()
    }

    func cancelTimer() {
        guard timerNanos != nil else { return }
        timerNanos = nil
        timerChanged = true
        requestWake()
    }


}

/// The connection's `HTTP1Host` on the reactor: forwards to its driver, held weakly so the
/// driver (owned by the reactor's session) and its connection do not keep each other alive.
/// A connection outliving its session (an answer from another thread arriving late) finds
/// every operation a no-op.
final class ReactorHTTP1Host: HTTP1Host {
    weak var driver: HTTP1ReactorDriver?
    let eventLoop: any EventLoop
    let allocator: ByteBufferAllocator
    let localAddress: (ip: String, port: Int)?

    init(driver: HTTP1ReactorDriver) {
        self.driver = driver
        eventLoop = driver.services.loop
        allocator = driver.services.allocator
        localAddress = driver.listenerAddress
    }

    func write(_ buffer: ByteBuffer) { driver?.write(buffer) }
    func flush() { driver?.flush() }
    func readMore() { driver?.readMore() }
    func close() { driver?.close() }
    func closeAfterWrites() { driver?.closeAfterWrites() }
    func armTimer(at deadline: UInt64, now: UInt64) { driver?.armTimer(at: deadline, now: now) }
    func cancelTimer() { driver?.cancelTimer() }
    var upstreamSite: (any UpstreamSite)? { driver?.upstreams }
}
