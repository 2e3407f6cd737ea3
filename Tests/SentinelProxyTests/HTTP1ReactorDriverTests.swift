import NIOCore
import SentinelPolicy
import SentinelReactor
import Testing

@testable import SentinelProxy

/// The HTTP/1 connection as a reactor driver, without sockets: bytes and events in, the
/// reactor's actions out (what it would write, read, arm and close), on a manual clock.
@Suite struct HTTP1ReactorDriverTests {
    @Test func pipelinedLocalAnswersLeaveInOrderAndTheConnectionStays() throws {
        let rig = try DriverRig()
        let d = rig.driver()
        let started = rig.play { d.start(&$0) }
        // The head must arrive within the request timeout (30 s here).
        #expect(started.deadline == .some(ReactorInstant(milliseconds: (rig.clock.now + 30_000_000_000) / 1_000_000)))
        let out = rig.play { rig.receive(d, "GET /health HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\n", &$0) }
        let health = try #require(out.written.range(of: "HTTP/1.1 200 OK\r\n"))
        let missing = try #require(out.written.range(of: "HTTP/1.1 404 Not Found\r\n"))
        #expect(health.lowerBound < missing.lowerBound)
        #expect(out.written.contains("{\"error\":\"404 Not Found\",\"trace_id\":\""))
        #expect(out.finish == nil)
        #expect(out.reading != false)
        #expect(rig.shared.metrics.activeRequests == 0)
    }

    @Test func connectionCloseIsAnsweredThenFinishedAfterTheWrites() throws {
        let rig = try DriverRig()
        let d = rig.driver()
        _ = rig.play { d.start(&$0) }
        let out = rig.play { rig.receive(d, "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &$0) }
        #expect(out.written.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(out.written.contains("Connection: close\r\n"))
        #expect(out.finish == .afterFlush)
        // Nothing more is asked of a finished session.
        let after = rig.play { d.drained(.downstream, &$0) }
        #expect(after.isEmpty)
    }

    @Test func aMalformedHeadIs400AndTheConnectionCloses() throws {
        let rig = try DriverRig()
        let d = rig.driver()
        _ = rig.play { d.start(&$0) }
        let out = rig.play { rig.receive(d, "GET /health HTTP/1.1\r\nBad Header\r\n\r\n", &$0) }
        #expect(out.written.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(out.written.contains("{\"error\":\"400 Bad Request\""))
        #expect(out.finish == .afterFlush)
    }

    @Test func aHeadThatStopsHalfwayIs408AtItsDeadline() throws {
        let rig = try DriverRig(requestTimeout: .milliseconds(200))
        let d = rig.driver()
        _ = rig.play { d.start(&$0) }
        let partial = rig.play { rig.receive(d, "GET /health HTTP/1.1\r\nHost: t\r\n", &$0) }
        #expect(partial.written.isEmpty)
        #expect(partial.finish == nil)
        rig.clock.set(rig.clock.now + 250_000_000)
        let fired = rig.play { d.deadlineReached(&$0) }
        #expect(fired.written.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(fired.finish == .afterFlush)
    }

    @Test func anIdleKeepAliveConnectionClosesAtItsKeepAliveDeadline() throws {
        let rig = try DriverRig(keepalive: .seconds(5))
        let d = rig.driver()
        _ = rig.play { d.start(&$0) }
        let answered = rig.play { rig.receive(d, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n", &$0) }
        #expect(answered.written.hasPrefix("HTTP/1.1 200 OK\r\n"))
        // A timer armed for the head (30 s) already fires earlier than the idle deadline (5 s
        // after the answer) would, so it is re-armed only when it fires.
        rig.clock.set(rig.clock.now + 5_100_000_000)
        let fired = rig.play { d.deadlineReached(&$0) }
        #expect(fired.written.isEmpty)
        #expect(fired.finish == .afterFlush)
    }

    @Test func aDrainGivesAnIdleConnectionAShortGraceThenCloses() throws {
        let rig = try DriverRig()
        let d = rig.driver()
        _ = rig.play { d.start(&$0) }
        _ = rig.play { rig.receive(d, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n", &$0) }
        let drained = rig.play { d.drain(&$0) }
        #expect(drained.finish == nil)
        let grace = try #require(drained.deadline ?? nil)
        #expect(grace.milliseconds <= (rig.clock.now + 250_000_000) / 1_000_000 + 1)
        // A request in the grace is answered, with Connection: close.
        let late = rig.play { rig.receive(d, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n", &$0) }
        #expect(late.written.contains("Connection: close\r\n"))
        #expect(late.finish == .afterFlush)
    }

    @Test func aPeerThatGoesAwayMidBodyEndsItsRequest() throws {
        let rig = try DriverRig()
        let d = rig.driver()
        _ = rig.play { d.start(&$0) }
        let head = rig.play { rig.receive(d, "POST /health HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc", &$0) }
        #expect(head.written.isEmpty)
        #expect(rig.shared.metrics.activeRequests == 1)
        _ = rig.play { d.failed(.downstream, ReactorError(.read, errno: 104), &$0) }
        #expect(rig.shared.metrics.activeRequests == 0)
    }

    /// A large answer leaves without a copy: its bytes are handed to the reactor as a borrowed
    /// buffer over the connection's own storage.
    @Test func aLargeAnswerIsHandedOverWithoutACopy() throws {
        let json = "{\"k\":\"" + String(repeating: "x", count: 40_000) + "\"}"
        let rig = try DriverRig(configJSON: json)
        let d = rig.driver()
        _ = rig.play { d.start(&$0) }
        let out = rig.play { rig.receive(d, "GET /config HTTP/1.1\r\nHost: t\r\n\r\n", &$0) }
        #expect(out.written.hasSuffix(json))
        #expect(out.borrowed.contains { $0 >= json.utf8.count }, "the body was copied: \(out.writes)")
    }

    /// The driver reads the client's socket itself, straight into the connection's buffer type:
    /// no pooled reactor buffer is involved, and an end of file reads nothing.
    @Test func theClientIsReadStraightIntoTheConnection() throws {
        let rig = try DriverRig()
        let d = rig.driver()
        #expect(d.readsIntoOwnMemory)
        _ = rig.play { d.start(&$0) }
        let pooled = rig.pool.pooledCount
        let out = rig.play { io in
            var read = SocketRead(scripted: Array("GET /health HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
            d.receive(on: .downstream, &read, &io)
            #expect(read.offered >= ReadSize.minimum)
        }
        #expect(out.written.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(out.borrowed.isEmpty)
        let end = rig.play { io in
            var read = SocketRead(scripted: [])
            d.receive(on: .downstream, &read, &io)
        }
        #expect(end.isEmpty)
        // The answer's pooled buffer is the reactor's now; nothing else was taken.
        #expect(rig.pool.pooledCount >= pooled - 1)
    }

    /// Regression: the driver was its connection's host and the connection held its host, so
    /// neither was ever freed (nor the connection counted as closed): every connection leaked.
    @Test func anEndedSessionReleasesItsDriverAndConnection() throws {
        let rig = try DriverRig()
        weak var driver: HTTP1ReactorDriver?
        weak var connection: ProxyConnectionHandler?
        do {
            let d = rig.driver()
            driver = d
            connection = d.connection
            _ = rig.play { d.start(&$0) }
            let out = rig.play { rig.receive(d, "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &$0) }
            #expect(out.finish == .afterFlush)
        }
        #expect(driver == nil)
        #expect(connection == nil)
    }

    @Test func anOversizedHeadIs431AndTheConnectionCloses() throws {
        let rig = try DriverRig()
        let d = rig.driver()
        _ = rig.play { d.start(&$0) }
        // A head beyond the parser's limits is refused (431) before the buffer bound matters.
        let big = "GET /health HTTP/1.1\r\nHost: t\r\nX-Big: " + String(repeating: "b", count: 20_000) + "\r\n\r\n"
        let out = rig.play { rig.receive(d, big, &$0) }
        #expect(out.written.hasPrefix("HTTP/1.1 431"))
        #expect(out.finish == .afterFlush)
    }
}

/// One reactor's services on the test's thread (the reactor is never run: the test plays its
/// events), a snapshot of builtin routes, and a manual clock.
struct DriverRig {
    let reactor: Reactor
    let loop: ReactorEventLoop
    let services: ReactorLoopServices
    let shared: ServerShared
    let clock = ManualNanos()
    var pool: BufferPool { reactor.pool }

    init(
        requestTimeout: Duration = .seconds(30), keepalive: Duration = .seconds(75), configJSON: String = "{\"redacted\":true}"
    ) throws {
        let actions: [RouteAction] = BuiltinKind.allCases.map { .builtin($0) }
        func index(_ k: BuiltinKind) -> Int { BuiltinKind.allCases.firstIndex(of: k)! }
        let snapshot = ServerSnapshot(
            listeners: [.init(id: "main", port: 0, requestTimeout: requestTimeout, keepaliveTimeout: keepalive)],
            router: try Router(routes: [
                RouteSpec(id: "health", paths: ["/health"], handler: index(.health)),
                RouteSpec(id: "config", paths: ["/config"], handler: index(.config)),
            ]),
            actions: actions, configJSON: configJSON, instanceID: "t", version: "test")
        reactor = try Reactor()
        loop = ReactorEventLoop(mailbox: reactor.mailbox)
        loop.attach(reactor)
        let clock = self.clock
        shared = ServerShared(
            snapshot: snapshot, metrics: MetricsRegistry(),
            clock: ServerClock(wallSeconds: { 1_700_000_000 }, monotonicNanos: { clock.now }))
        services = ReactorLoopServices(reactor: reactor, loop: loop, snapshot: snapshot, shared: shared, health: UpstreamHealth())
    }

    func driver() -> HTTP1ReactorDriver {
        HTTP1ReactorDriver(
            services: services, shared: shared, listenerID: "main", peer: SentinelReactor.SocketAddress(host: "127.0.0.1", port: 40000),
            listenerAddress: ("127.0.0.1", 8080))
    }

    /// Hands `text` to the driver as one read.
    func receive(_ driver: HTTP1ReactorDriver, _ text: String, _ io: inout DriverIO) {
        var rest = Array(text.utf8)[...]
        while !rest.isEmpty {
            let buffer = pool.take()
            let n = rest.withUnsafeBytes { buffer.append($0) }
            rest = rest.dropFirst(n)
            driver.received(buffer, on: .downstream, &io)
        }
    }

    /// Calls the driver with a fresh `DriverIO` at the manual clock's time; what it asked for.
    func play(_ body: (inout DriverIO) -> Void) -> Played {
        var io = DriverIO(now: ReactorInstant(milliseconds: clock.now / 1_000_000), pool: pool, session: 1)
        body(&io)
        var played = Played()
        for action in io.actions {
            switch action {
            case .write(let endpoint, let buffer):
                #expect(endpoint == .downstream)
                played.writes.append(buffer.readableBytes)
                if buffer.isBorrowed { played.borrowed.append(buffer.readableBytes) }
                played.written += String(decoding: buffer.readable, as: UTF8.self)
            case .reading(_, let on): played.reading = on
            case .deadline(let at): played.deadline = .some(at)
            case .finish(let mode): played.finish = mode
            case .close(_, let mode): played.finish = mode
            case .connect: Issue.record("an HTTP/1 driver without upstreams connected somewhere")
            }
        }
        played.isEmpty = io.actions.isEmpty
        return played
    }

    struct Played {
        var written = ""
        var writes: [Int] = []
        /// The sizes of the writes that borrowed the connection's storage (no copy).
        var borrowed: [Int] = []
        var reading: Bool?
        /// nil: not set; .some(nil): cleared.
        var deadline: ReactorInstant??
        var finish: SentinelReactor.CloseMode?
        var isEmpty = true
    }
}
