import NIOCore
import Synchronization
import SentinelHTTP1
import SentinelPolicy

/// One client connection of the HTTP/1.1 data plane: strict head parsing on raw bytes, routing,
/// builtin answers, and proxied exchanges with end-to-end backpressure.
///
/// Requests on a connection are handled strictly one at a time, in order: pipelined bytes wait
/// in `inbound` (and reading from the client pauses) until the current exchange is complete, so
/// responses can never be reordered. Reading from the client is gated in `read(context:)`: it
/// happens only while the current phase can absorb more bytes (a head to parse, a body the
/// upstream can accept), which bounds every buffer without copying.
///
/// The connection's phase, deadlines and drain are decided by `machine` (HTTP1ConnectionMachine):
/// this handler feeds it the connection's events and performs the actions it returns.
///
/// The connection logic is host-neutral: every byte in arrives through `received(_:)` and the
/// other connection events (`opened`, `readRequested`, `writabilityChanged`, `peerClosed`,
/// `quiesce`), and every byte out, close and timer goes through `host` (`HTTP1Host`). On NIO the
/// handler is its channel's last handler and its host wraps the channel's context
/// (`NIOHTTP1Host`); on Sentinel's reactor an `HTTP1ReactorDriver` creates it and is its host,
/// so both data paths run the same code for every decision.
final class ProxyConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    typealias Machine = HTTP1ConnectionMachine<ProxyExchange, LocalReply>

    let shared: ServerShared
    let listenerID: String
    /// This loop's route caches, one per route set.
    let routeCache: NIOLoopBoundBox<[RouteCache]>
    let pool: UpstreamPool
    let accessLog: AccessLogBuffer
    /// What moves this connection's bytes (a NIO channel or a reactor session); set by the host.
    var host: (any HTTP1Host)!
    /// The connection's phase, deadlines, drain and read gating.
    var machine: Machine
    var inbound: ByteBuffer
    private(set) var parser: HTTP1RequestHeadParser
    /// The request waiting for a filter's verdict, if any (ProxyConnectionHandler+FilterWait).
    var filterWait: FilterWait?
    /// The last filter ticket given out on this connection.
    var filterTickets: UInt64 = 0
    /// The connection's filter wake target, made when a chain first may wait.
    var wakeTarget: ConnectionWakeTarget?
    /// Clock reading of the current read event when it brought a request's first byte (0: none;
    /// cleared when the event ends).
    var firstByteNanos: UInt64 = 0
    /// The request in flight, for the active-requests gauge (ProxyConnectionHandler+Accounting).
    var tally = RequestTally()
    /// A drain started: the request in flight is the connection's last.
    var quiescing: Bool { machine.quiescing }
    var clientIP = "unknown"
    /// The client's address for the request in progress: `clientIP`, or the address a trusted
    /// proxy forwarded (`ClientAddress`); what filters, rate limits and the access log use.
    var currentClientIP = "unknown"
    /// The TLS facts of an HTTPS connection (set by `TLSServerHandler`'s event at handshake end).
    var connectionTLS: ConnectionTLS?
    var snapshot: ServerSnapshot

    init(
        shared: ServerShared, listenerID: String, routeCache: NIOLoopBoundBox<[RouteCache]>, pool: UpstreamPool,
        accessLog: AccessLogBuffer
    ) {
        self.accessLog = accessLog
        self.shared = shared
        self.listenerID = listenerID
        self.routeCache = routeCache
        self.pool = pool
        snapshotGeneration = shared.generation.load(ordering: .acquiring)
        snapshot = shared.snapshot
        listener = snapshot.listener(id: listenerID)
        routes = snapshot.routes(forListener: listenerID)
        exchangeSettings = Self.exchangeSettings(snapshot, listener: listener)
        parser = HTTP1RequestHeadParser(limits: snapshot.limits.request)
        machine = Machine(timing: Self.timing(listener, snapshot))
        inbound = ByteBuffer()
    }

    /// An empty buffer without storage of its own (shared, never written to: `channelRead`
    /// replaces an empty `inbound` instead of appending to it).
    static var noBytes: ByteBuffer { ByteBuffer.sharedEmpty }

    private(set) var listener: ServerSnapshot.Listener?
    /// The listener's routes, resolved (`Admission/RouteTable.swift`).
    private(set) var routes: ListenerRoutes
    /// The listener's minimum body rate as the exchange uses it: nanoseconds per byte (0: no
    /// minimum) and the grace, computed once per snapshot.
    static func bodyRate(_ listener: ServerSnapshot.Listener?) -> (nanosPerByte: UInt64, graceNanos: UInt64) {
        guard let listener, listener.bodyMinRate > 0 else { return (0, 0) }
        return (max(1, 1_000_000_000 / UInt64(listener.bodyMinRate)), UInt64(max(0, listener.bodyRateGrace.nanoseconds)))
    }
    /// What this listener's exchanges take from the snapshot (ProxyConnectionHandler+Downstream).
    private(set) var exchangeSettings: ExchangeSettings
    /// The HTTP version of the request in progress (how its response is written).
    var requestVersion: HTTP1Version = .http1_1

    /// The connection machine's bounds from the listener and the snapshot's limits.
    static func timing(_ listener: ServerSnapshot.Listener?, _ snapshot: ServerSnapshot) -> Machine.Timing {
        func nanos(_ d: Duration) -> UInt64 { UInt64(max(0, d.nanoseconds)) }
        var t = Machine.Timing()
        t.requestTimeoutNanos = nanos(listener?.requestTimeout ?? .seconds(60))
        t.keepaliveNanos = nanos(listener?.keepaliveTimeout ?? .seconds(75))
        t.quiesceGraceNanos = nanos(quiesceGrace)
        t.maxRequests = listener?.keepaliveMaxRequests
        (t.bodyNanosPerByte, t.bodyGraceNanos) = bodyRate(listener)
        t.maxBufferedHead = snapshot.limits.request.maxHeaderBytes + snapshot.limits.request.maxURIBytes + 4096
        t.maxBufferedForwarding = 64 * 1024
        return t
    }
    private var snapshotGeneration = 0

    /// Picks up a reloaded snapshot (between requests only).
    func refreshSnapshot() {
        let g = shared.generation.load(ordering: .acquiring)
        guard g != snapshotGeneration else { return }
        snapshotGeneration = g
        snapshot = shared.snapshot
        listener = snapshot.listener(id: listenerID)
        routes = snapshot.routes(forListener: listenerID)
        exchangeSettings = Self.exchangeSettings(snapshot, listener: listener)
        parser = HTTP1RequestHeadParser(limits: snapshot.limits.request)
        machine.timing = Self.timing(listener, snapshot)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        host = NIOHTTP1Host(context: context, connection: self)
        if let remote = context.channel.remoteAddress {
            if let ip = remote.ipAddress {
                clientIP = ip
                currentClientIP = ip
            }
            switch remote {
            case .v4(let a): clientIPBytes = withUnsafeBytes(of: a.address.sin_addr) { Array($0) }
            case .v6(let a):
                clientIPBytes = withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
                clientIsIPv6 = true
            default: clientIPBytes = nil
            }
        }
    }

    /// The client's address as bytes (for hash-based balancing and the trusted-proxy check).
    var clientIPBytes: [UInt8]?
    /// The client's address is IPv6 (it is quoted and bracketed in `Forwarded`).
    var clientIsIPv6 = false
    /// `localAuthority()`, once built.
    var localAuthorityText: String?

    /// Breaks the handler ↔ context reference cycle: without this every closed connection
    /// stayed in memory (about 4 KiB each).
    func handlerRemoved(context: ChannelHandlerContext) {
        cancelDeadlineTimer()
        host = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        opened()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received(unwrapInboundIn(data))
    }

    func read(context: ChannelHandlerContext) {
        if readRequested() { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        peerClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close()
    }

    // MARK: - Connection events (from either host)

    /// The connection is established.
    func opened() {
        let now = shared.clock.monotonicNanos()
        perform(machine.opened(now: now), now: now)
    }

    /// Client bytes arrived.
    func received(_ bytes: ByteBuffer) {
        var bytes = bytes
        if machine.isClosed { return }
        if machine.isIdle {
            // The first byte of the next request: its head must be complete within the request timeout.
            let now = shared.clock.monotonicNanos()
            let (firstByte, actions) = machine.bytesArrived(now: now)
            perform(actions, now: now)
            if firstByte { firstByteNanos = now }
        }
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeBuffer(&bytes)
        }
        process()
        // Only a head completed in this same read event starts at that reading: one trickled
        // over several reads starts when it is complete, as before.
        firstByteNanos = 0
    }

    /// The host may read more client bytes: whether the current phase can take them (if not,
    /// the read is held back until `resumeReading`).
    func readRequested() -> Bool {
        machine.readRequested(buffered: inbound.readableBytes)
    }

    /// Issues a read that was held back, if the current phase can take bytes again.
    func resumeReading() {
        if machine.resumeReading(buffered: inbound.readableBytes) { host.readMore() }
    }

    /// The client's send buffer crossed a watermark.
    func writabilityChanged(_ writable: Bool) {
        isWritable = writable
        machine.exchange?.clientWritabilityChanged(isWritable)
    }

    /// The connection is gone (closed by the peer, by an error, or by this side).
    func peerClosed() {
        machine.exchange?.clientClosed()
        cancelFilterWait(.clientGone)
        // A request whose answer never went out (a body being discarded, an instance answer
        // pending) leaves the gauge here; one already ended does not.
        abandonRequest()
        machine.closed()
        cancelDeadlineTimer()
    }


    // MARK: - Processing

    /// Works through buffered client bytes as far as the current phase allows.
    func process() {
        while true {
            switch machine.phase {
            case .awaitingHead:
                guard inbound.readableBytes > 0 else { return resumeReading() }
                let result = inbound.withUnsafeReadableBytes { parser.parseInPlace($0) }
                switch result {
                case .needMore:
                    return resumeReading()
                case .error(let error):
                    failBeforeRouting(status: error.status, reason: error.reason)
                    return
                case .complete:
                    // One copy out of the parser (the request may reset or replace it).
                    let head = parser.completedHead
                    startRequest(head)
                }
            case .discardingBody(var reply, _):
                guard reply.body.consume(&inbound) else {
                    if reply.body.failed {
                        // Malformed chunked framing, or a body over the limit.
                        let over = reply.body.seen > UInt64(reply.body.limit)
                        reply.refuse(ProxyError(over ? .clientBodyTooLarge : .clientBodyMalformed, route: reply.request.routeID))
                        finishLocal(reply)
                        return
                    }
                    perform(machine.bodyProgress(reply, received: reply.body.received))
                    return resumeReading()
                }
                finishLocal(reply)
            case .proxying(let exchange, _):
                exchange.forwardRequestBody()
                if case .proxying(let still, _) = machine.phase, still === exchange { return resumeReading() }
            case .tunneling(let exchange, _):
                exchange.forwardTunnelBytes()
                return resumeReading()
            case .awaitingInstance, .awaitingFilter:
                return
            case .closed:
                inbound.clear()
                return
            }
        }
    }

    /// The request was answered: tells the machine (the snapshot is refreshed first, so the
    /// next request's idle deadline is the current listener's) and, when the connection stays
    /// open, goes back to reading heads. Returns the step the machine decided.
    func requestEnded(keepAlive: Bool, now: UInt64) -> Machine.Step {
        refreshSnapshot()
        let actions = machine.requestFinished(keepAlive: keepAlive, now: now)
        if let at = actions.armTimer { armDeadlineTimer(at: at, now: now) }
        if case .nextRequest = actions.step { prepareNextRequest() }
        return actions.step
    }

    /// The connection stays open: ready the parser and the buffer for the next head.
    private func prepareNextRequest() {
        parser.reset()
        if inbound.readableBytes == 0 {
            // Let go of the received buffer instead of clearing it: clearing storage that NIO's
            // receive-buffer pool (or a forwarded slice) still references copies it, and the
            // pool can reuse the buffer for the next read once nothing here holds it.
            inbound = Self.noBytes
        } else if inbound.readerIndex > 64 * 1024 {
            inbound.discardReadBytes()
        }
    }

    /// Called by the exchange when it finished (response fully sent, request fully read).
    func exchangeFinished(keepAlive: Bool, now: UInt64? = nil) {
        switch requestEnded(keepAlive: keepAlive, now: now ?? shared.clock.monotonicNanos()) {
        case .nextRequest:
            process()
        default:
            unflushed = false
            host.closeAfterWrites()
        }
    }

    func close() {
        machine.closed()
        host.close()
    }

    // MARK: - Access log

    /// The facts of the request in progress (for the access log of a proxied exchange).
    var currentFacts: RequestFacts?

    // MARK: - Writing (methods in ProxyConnectionHandler+Output.swift)

    /// Writes since the last flush: a flush with nothing pending still walks the pipeline, and
    /// an exchange would otherwise flush twice per response (end of body, end of read burst).
    var unflushed = false

    /// The buffers of the last request head sent upstream and the last response head sent to
    /// the client. Once NIO has written one and its exchange let go, this is its only reference,
    /// so `headBuffer` clears and reuses it: a keep-alive connection allocates no head buffers
    /// in the steady state. A buffer still held elsewhere is never written to (`clear`
    /// allocates fresh storage then: ByteBuffer is copy-on-write).
    var spareRequestHead: ByteBuffer?
    var spareResponseHead: ByteBuffer?

    /// The client's writability as the host last said (NIO fires it on every change,
    /// synchronously from the write that crossed a watermark): the same answer as
    /// `context.channel.isWritable` without NIO's lookups on every check.
    private(set) var isWritable = true
}

@available(*, unavailable)
extension ProxyConnectionHandler: Sendable {}
