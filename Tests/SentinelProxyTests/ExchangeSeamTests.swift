import NIOCore
import NIOEmbedded
import SentinelHTTP1
import SentinelPolicy
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

@testable import SentinelProxy

/// A proxied exchange driven end to end without sockets: a recording `Downstream` on the client
/// side, `EmbeddedChannel`s handed out by an injected `UpstreamConnector` on the upstream side,
/// and a manual clock for the exchange's deadlines.
@Suite struct ExchangeSeamTests {
    /// Request head and body up, response head and body down, the upstream connection back in
    /// the pool, and the downstream told to keep its client.
    @Test func aRequestAndItsResponseCrossTheSeam() throws {
        let rig = try Rig()
        let exchange = rig.exchange(head: "POST /upload HTTP/1.1\r\nHost: u\r\nContent-Length: 5\r\n\r\n", body: .contentLength(5))
        rig.downstream.requestBytes = ByteBuffer(string: "hello")
        exchange.start()

        let upstream = try #require(rig.connector.channels.first)
        #expect(try rig.outbound(upstream) == "POST /upload HTTP/1.1\r\nHost: u\r\nContent-Length: 5\r\n\r\nhello")
        #expect(rig.downstream.requestBytes.readableBytes == 0)
        #expect(rig.downstream.resumed > 0)

        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello "))
        try upstream.writeInbound(ByteBuffer(string: "world"))

        #expect(rig.downstream.heads == [200])
        #expect(rig.downstream.keepAliveOffered == [true])
        #expect(String(buffer: rig.downstream.body) == "hello world")
        #expect(rig.downstream.finished == [true])
        #expect(rig.downstream.answers.isEmpty && rig.downstream.resets == 0)
        #expect(rig.downstream.ended.map(\.status) == [200])
        #expect(rig.downstream.ended.first?.error == nil)
        #expect(rig.pool.idleCount == 1)
        #expect(rig.downstream.deadlines.allSatisfy { $0 != 0 })
        #expect(rig.downstream.deadlineCleared)
    }

    /// A small body that arrives with the head goes out in the head's write (`inlineBody`).
    @Test func aSmallBodyTravelsWithItsHead() throws {
        let rig = try Rig()
        let exchange = rig.exchange(head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        exchange.start()
        let upstream = try #require(rig.connector.channels.first)
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"))
        #expect(rig.downstream.inlineBodies == [2])
        #expect(String(buffer: rig.downstream.body) == "hi")
        #expect(rig.downstream.finished == [true])
    }

    /// A downstream that carries no chunk framing (an HTTP/1.0 client, later an HTTP/2 stream)
    /// gets only the chunks' data; one that passes framing through gets the bytes as received.
    @Test(arguments: [true, false]) func chunkFramingFollowsTheDownstream(strips: Bool) throws {
        let rig = try Rig()
        rig.downstream.stripsChunking = strips
        let exchange = rig.exchange(head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        exchange.start()
        let upstream = try #require(rig.connector.channels.first)
        let chunks = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks))
        #expect(String(buffer: rig.downstream.body) == (strips ? "abcde" : chunks))
        #expect(rig.downstream.finished == [true])
        #expect(rig.pool.idleCount == 1)
    }

    /// Every connect refused: the default rules try three times, then the client gets exactly
    /// one answer, with the status `ProxyError` derives, and the request ends once with the error.
    @Test func anUpstreamFailureBeforeTheResponseIsOneErrorAnswer() throws {
        let rig = try Rig()
        rig.connector.refuse = true
        let exchange = rig.exchange(head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        exchange.start()
        #expect(rig.connector.attempts == 3)
        let status = ProxyError(.connectFailed).status
        #expect(rig.downstream.answers.map(\.status) == [status])
        #expect(rig.downstream.answers.first?.keepAlive == true)
        #expect(rig.downstream.finished == [true])
        #expect(rig.downstream.heads.isEmpty && rig.downstream.resets == 0)
        #expect(rig.downstream.ended.map(\.status) == [status])
        #expect(rig.downstream.ended.first?.error?.kind == .connectFailed)
        #expect(rig.downstream.ended.first?.error?.description.contains("10.9.8.7:8080") == true)
    }

    /// The upstream closes mid-body: the client cannot get a whole response any more, so the
    /// downstream is reset (no answer, no finish) and the request ends with the error.
    @Test func anUpstreamFailureAfterTheResponseStartedResetsTheClient() throws {
        let rig = try Rig()
        let exchange = rig.exchange(head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        exchange.start()
        let upstream = try #require(rig.connector.channels.first)
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
        try upstream.close().wait()
        #expect(rig.downstream.heads == [200])
        #expect(String(buffer: rig.downstream.body) == "abc")
        #expect(rig.downstream.resets == 1)
        #expect(rig.downstream.answers.isEmpty && rig.downstream.finished.isEmpty)
        #expect(rig.downstream.ended.map(\.status) == [200])
        #expect(rig.downstream.ended.first?.error?.kind == .closedMidResponse)
        #expect(rig.pool.idleCount == 0)
    }

    /// The upstream stays silent past its read timeout (manual clock): 504 through the seam.
    @Test func upstreamSilenceIsAnsweredWhenTheDeadlinePasses() throws {
        let rig = try Rig()
        let exchange = rig.exchange(head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        exchange.start()
        let deadline = try #require(rig.downstream.deadlines.last)
        rig.clock.set(deadline)
        exchange.timerFired()
        let status = ProxyError(.responseTimeout).status
        #expect(rig.downstream.answers.map(\.status) == [status])
        #expect(rig.downstream.ended.first?.error?.kind == .responseTimeout)
    }

    /// The HTTP/1 downstream's own decisions, moved behind the seam: which responses close the
    /// client connection and which lose their chunk framing.
    @Test func http1DeliveryDecisions() {
        func d(_ framing: ResponseFraming, http10: Bool = false, keepAlive: Bool = true, quiescing: Bool = false) -> ResponseDelivery {
            ProxyConnectionHandler.delivery(of: framing, http10: http10, keepAlive: keepAlive, quiescing: quiescing)
        }
        let keep = ResponseDelivery(closesConnection: false, stripsChunking: false)
        let close = ResponseDelivery(closesConnection: true, stripsChunking: false)
        #expect(d(.contentLength(3)) == keep)
        #expect(d(.chunked) == keep)
        #expect(d(.none, http10: true) == keep)
        #expect(d(.chunked, http10: true) == ResponseDelivery(closesConnection: true, stripsChunking: true))
        #expect(d(.untilClose) == close)
        #expect(d(.contentLength(3), keepAlive: false) == close)
        #expect(d(.contentLength(3), quiescing: true) == close)
    }

    /// The HTTP/1 downstream's connection facts: the peer as accepted, and the scheme.
    @Test func http1ConnectionFacts() throws {
        let snapshot = ServerSnapshot(
            listeners: [.init(id: "main", port: 0)], router: try Router(routes: []), actions: [], instanceID: "t", version: "test")
        let loop = EmbeddedEventLoop()
        let handler = ProxyConnectionHandler(
            shared: ServerShared(snapshot: snapshot, metrics: MetricsRegistry(), clock: .system), listenerID: "main",
            routeCache: NIOLoopBoundBox([RouteCache()], eventLoop: loop), pool: UpstreamPool(eventLoop: loop, clock: .system),
            accessLog: AccessLogBuffer(eventLoop: loop))
        let channel = EmbeddedChannel(loop: loop)
        channel.remoteAddress = try SocketAddress(ipAddress: "::1", port: 4242)
        try channel.pipeline.syncOperations.addHandler(handler)
        let facts = handler.connectionFacts
        #expect(facts.peer == "::1")
        #expect(facts.peerIsIPv6)
        #expect(facts.peerBytes?.count == 16)
        #expect(facts.scheme == "http")
        #expect(facts.tls == nil)
        _ = try? channel.finish()
    }
}

// MARK: - The rig

/// A clock the test moves by hand.
final class ManualNanos: Sendable {
    private let value = Atomic<UInt64>(1_000_000_000)
    var now: UInt64 { value.load(ordering: .relaxed) }
    func set(_ nanos: UInt64) { value.store(nanos, ordering: .relaxed) }
}

/// One exchange's world: snapshot, pool with the embedded connector, recording downstream (also
/// used by `ExchangeLifecycleSeamTests`).
struct Rig {
    let loop = EmbeddedEventLoop()
    let clock = ManualNanos()
    let connector: EmbeddedConnector
    let pool: UpstreamPool
    let shared: ServerShared
    let snapshot: ServerSnapshot
    let downstream = RecordingDownstream()

    init() throws {
        let upstream = UpstreamRuntime(id: "backend", targets: [.init(host: "10.9.8.7", port: 8080)])
        snapshot = ServerSnapshot(
            listeners: [.init(id: "main", port: 0)], router: try Router(routes: []), actions: [], instanceID: "t",
            version: "test", upstreams: [upstream])
        let clock = clock
        let serverClock = ServerClock(wallSeconds: { 1_700_000_000 }, monotonicNanos: { clock.now })
        shared = ServerShared(snapshot: snapshot, metrics: MetricsRegistry(), clock: serverClock)
        connector = EmbeddedConnector(loop: loop)
        pool = UpstreamPool(eventLoop: loop, clock: serverClock, connector: connector)
    }

    func exchange(
        head: String, body framing: RequestFraming = .none, downstream: RecordingDownstream? = nil,
        clientStall: Duration = .seconds(60)
    ) -> ProxyExchange {
        let downstream = downstream ?? self.downstream
        let body = BodyCounter(framing: framing, limit: 1 << 20, limits: HTTP1Limits())
        let exchange = ProxyExchange(
            downstream: downstream, pool: pool, shared: shared,
            settings: ExchangeSettings(responseLimits: HTTP1Limits(), via: nil, clientStallTimeout: clientStall), upstreamIndex: 0,
            upstreams: snapshot.upstreamRefs, headBytes: ByteBuffer(string: head), body: body,
            request: RequestIdentity(method: .get, methodName: "GET", routeID: "r", traceID: "trace-1", startNanos: clock.now),
            clientKeepAlive: true, upgrade: false)
        downstream.exchange = exchange
        return exchange
    }

    /// Everything written to an upstream channel so far.
    func outbound(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }
}

/// Hands out EmbeddedChannels (connected, with the pool's handler) or refuses every connect.
final class EmbeddedConnector: UpstreamConnector {
    let loop: EmbeddedEventLoop
    var channels: [EmbeddedChannel] = []
    var attempts = 0
    var refuse = false

    init(loop: EmbeddedEventLoop) { self.loop = loop }

    func connect(
        to address: UpstreamAddress, limits: UpstreamPool.Limits, eventLoop: any EventLoop, handler: UpstreamChannelHandler
    ) -> EventLoopFuture<any Channel> {
        attempts += 1
        if refuse { return eventLoop.makeFailedFuture(IOError(errnoCode: ECONNREFUSED, reason: "connect")) }
        let channel = EmbeddedChannel(handler: handler, loop: loop)
        _ = channel.connect(to: try! SocketAddress(ipAddress: "10.9.8.7", port: 8080))
        channels.append(channel)
        return eventLoop.makeSucceededFuture(channel)
    }
}

/// A client side that records what the exchange asks of it.
final class RecordingDownstream: Downstream {
    /// Owns the exchange, as a real downstream does (the exchange holds it `unowned`).
    var exchange: ProxyExchange?
    var requestBytes = ByteBuffer()
    var isWritable = true
    var stripsChunking = false

    /// Where the exchange's upstream connections live (a reactor session in ReactorUpstreamTests).
    var upstreamSite: (any UpstreamSite)?
    /// Called on `resumeReading` (ReactorUpstreamTests feed the body from it).
    var onResume: (() -> Void)?
    var unwritableSeen = 0

    var resumed = 0
    var heads: [Int] = []
    var keepAliveOffered: [Bool] = []
    var inlineBodies: [Int] = []
    var body = ByteBuffer()
    var answers: [(status: Int, keepAlive: Bool)] = []
    var finished: [Bool] = []
    var resets = 0
    var deadlines: [UInt64] = []
    var deadlineCleared = false
    var ended: [(status: Int, error: ProxyError?)] = []

    var connectionFacts: ConnectionFacts {
        ConnectionFacts(peer: "192.0.2.1", peerBytes: [192, 0, 2, 1], peerIsIPv6: false, scheme: "http", tls: nil)
    }

    func resumeReading() {
        resumed += 1
        onResume?()
    }

    func writeInterimHead(_ head: ResponseHead, bytes: UnsafeRawBufferPointer, edits: consuming ResponseHeadEdits) {
        heads.append(head.status)
    }

    func writeResponseHead(
        _ head: ResponseHead, bytes: UnsafeRawBufferPointer, edits: consuming ResponseHeadEdits, keepAlive: Bool,
        inlineBody: Int
    ) -> ResponseDelivery {
        heads.append(head.status)
        keepAliveOffered.append(keepAlive)
        inlineBodies.append(inlineBody)
        body.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[head.headLength..<(head.headLength + inlineBody)]))
        return ResponseDelivery(closesConnection: !keepAlive, stripsChunking: stripsChunking)
    }

    func writeSwitchingHead(_ head: ResponseHead, bytes: UnsafeRawBufferPointer, edits: consuming ResponseHeadEdits) {
        heads.append(head.status)
    }

    func startTunnel() {}

    func writeBody(_ buffer: ByteBuffer) {
        var buffer = buffer
        body.writeBuffer(&buffer)
    }

    func flush() {}

    func writeAnswer(_ response: BuiltinResponse, isHead: Bool, keepAlive: Bool) {
        answers.append((response.status, keepAlive))
    }

    func finish(keepAlive: Bool, now: UInt64?) { finished.append(keepAlive) }

    func reset() { resets += 1 }

    func setExchangeDeadline(_ deadline: UInt64, of exchange: ProxyExchange, now: UInt64) {
        deadlines.append(deadline)
    }

    func clearExchangeDeadline(of exchange: ProxyExchange) { deadlineCleared = true }

    func requestEnded(
        route: String?, method: String, status: Int, seconds: Double, target: TargetSample?, log: () -> ExchangeLogFields
    ) {
        ended.append((status, log().error))
    }
}
