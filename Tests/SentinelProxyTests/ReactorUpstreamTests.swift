import Dispatch
import NIOCore
import SentinelHTTP1
import SentinelPolicy
import SentinelReactor
import SentinelTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

@testable import SentinelProxy

/// Whole exchanges whose upstream side runs on Sentinel's reactor (`ReactorUpstreamTransport`):
/// real sockets to real upstreams on 127.0.0.1, a recording downstream on the client side. Each
/// exchange is a reactor session without a client socket; its upstream connections are endpoints
/// of that session, parked with the reactor between exchanges.
@Suite struct ReactorUpstreamTests {
    @Test func aResponseCrossesAndTheConnectionIsParked() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("hello") }
        defer { Task { await upstream.shutdown() } }
        let rig = try ReactorRig()
        defer { rig.stop() }
        let snapshot = try ReactorRig.snapshot(port: upstream.port)
        let result = try rig.exchange(snapshot, head: "GET /a HTTP/1.1\r\nHost: u\r\n\r\n")
        #expect(result.heads == [200])
        #expect(result.body == "hello")
        #expect(result.finished == [true])
        #expect(result.error == nil)
        #expect(try rig.ask { w in (w.pool.idleCount, w.reactor.parkedCount) } == (1, 1))
        #expect(upstream.requests.first?.requestLine == "GET /a HTTP/1.1")
    }

    /// Two exchanges in two sessions, one after the other: the second adopts the first one's
    /// parked connection (the upstream sees one connection carrying both requests).
    @Test(arguments: [ReactorConfiguration.Triggering.edge, .level])
    func aParkedConnectionServesTheNextSession(_ triggering: ReactorConfiguration.Triggering) async throws {
        let upstream = try await ScriptedUpstream { r in .ok("for " + r.requestLine) }
        defer { Task { await upstream.shutdown() } }
        let rig = try ReactorRig(triggering: triggering)
        defer { rig.stop() }
        let snapshot = try ReactorRig.snapshot(port: upstream.port)
        let first = try rig.exchange(snapshot, head: "GET /1 HTTP/1.1\r\nHost: u\r\n\r\n")
        let second = try rig.exchange(snapshot, head: "GET /2 HTTP/1.1\r\nHost: u\r\n\r\n")
        #expect(first.body == "for GET /1 HTTP/1.1")
        #expect(second.body == "for GET /2 HTTP/1.1")
        #expect(second.reused == true)
        #expect(upstream.connectionCount == 1)
        #expect(upstream.requests.map(\.connection) == [1, 1])
        let stats = try rig.ask { w in (w.reactor.stats.parked, w.reactor.stats.adopted) }
        #expect(stats == (2, 1))
    }

    /// Nothing listens: every attempt is refused (the default rules try three times), and the
    /// client gets one 502 with the refusal as its cause.
    @Test func connectRefusedIsOneErrorAnswer() async throws {
        let port = try closedPort()
        let rig = try ReactorRig()
        defer { rig.stop() }
        let result = try rig.exchange(try ReactorRig.snapshot(port: port), head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        #expect(result.answers == [ProxyError(.connectFailed).status])
        #expect(result.error?.kind == .connectFailed)
        #expect(result.error?.description.contains("refused") == true)
        #expect(try rig.ask { w in w.pool.idleCount } == 0)
    }

    /// A listener whose backlog is full drops SYNs: the connect deadline (the upstream's
    /// `connect-timeout`) ends each attempt, and the client gets a 504.
    @Test func connectTimeoutEndsTheAttempt() async throws {
        let (lfd, port) = try fullListener()
        defer { close(lfd.fd); lfd.fillers.forEach { close($0) } }
        let rig = try ReactorRig()
        defer { rig.stop() }
        let started = ContinuousClock.now
        let result = try rig.exchange(
            try ReactorRig.snapshot(port: port, connectTimeout: .milliseconds(200)), head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        #expect(result.answers == [ProxyError(.connectTimeout).status])
        #expect(result.error?.kind == .connectTimeout)
        #expect(ContinuousClock.now - started >= .milliseconds(200))
        // The timers' sessions ended with their attempts.
        #expect(try rig.waitForNoSessions())
    }

    /// The upstream closes mid-body: the client cannot get a whole response, so it is reset.
    @Test func aCloseMidResponseResetsTheClient() async throws {
        let upstream = try await ScriptedUpstream { _ in
            .bytesThenClose(Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc".utf8))
        }
        defer { Task { await upstream.shutdown() } }
        let rig = try ReactorRig()
        defer { rig.stop() }
        let result = try rig.exchange(try ReactorRig.snapshot(port: upstream.port), head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        #expect(result.heads == [200])
        #expect(result.resets == 1)
        #expect(result.error?.kind == .closedMidResponse)
        #expect(try rig.ask { w in (w.pool.idleCount, w.reactor.parkedCount) } == (0, 0))
    }

    /// A reset (RST) in the middle of the body ends the same way.
    @Test func aResetMidResponseResetsTheClient() async throws {
        let server = try RawServer { fd in
            _ = readHead(fd)
            sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
            // The head and the first bytes are read before the reset arrives.
            usleep(100_000)
            var l = linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        }
        defer { server.stop() }
        let rig = try ReactorRig()
        defer { rig.stop() }
        let result = try rig.exchange(try ReactorRig.snapshot(port: server.port), head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        #expect(result.resets == 1)
        #expect(result.error?.kind == .closedMidResponse)
    }

    /// A body delimited by the upstream's end of file: the half-close completes the response.
    @Test func aBodyUntilCloseEndsWithTheUpstreamsEndOfFile() async throws {
        let upstream = try await ScriptedUpstream { _ in .bytesThenClose(Array("HTTP/1.1 200 OK\r\n\r\nuntil close".utf8)) }
        defer { Task { await upstream.shutdown() } }
        let rig = try ReactorRig()
        defer { rig.stop() }
        let result = try rig.exchange(try ReactorRig.snapshot(port: upstream.port), head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        #expect(result.body == "until close")
        #expect(result.error == nil)
        #expect(result.ended == [200])
        #expect(try rig.ask { w in w.pool.idleCount } == 0)
    }

    /// A parked connection the upstream closes is dropped from the pool at once (the next
    /// exchange opens a new one instead of replaying on a dead one).
    @Test(arguments: [ReactorConfiguration.Triggering.edge, .level])
    func aParkedConnectionClosedByTheUpstreamLeavesThePool(_ triggering: ReactorConfiguration.Triggering) async throws {
        let closeNow = Locked(false)
        let server = try RawServer { fd in
            _ = readHead(fd)
            sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            _ = pollTrue { closeNow.value }
        }
        defer { server.stop() }
        let rig = try ReactorRig(triggering: triggering)
        defer { rig.stop() }
        _ = try rig.exchange(try ReactorRig.snapshot(port: server.port), head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        #expect(try rig.ask { w in (w.pool.idleCount, w.reactor.parkedCount) } == (1, 1))
        closeNow.update { $0 = true }
        #expect(pollTrue { (try? rig.ask { w in (w.pool.idleCount, w.reactor.parkedCount) }) ?? (1, 1) == (0, 0) })
        #expect(try rig.ask { w in w.reactor.stats.parkedClosed } == 1)
    }

    /// Idle connections are closed after the upstream's idle timeout by the pool's sweep; the
    /// next exchange connects again.
    @Test func idleConnectionsExpire() async throws {
        let upstream = try await ScriptedUpstream { _ in .ok("x") }
        defer { Task { await upstream.shutdown() } }
        let rig = try ReactorRig()
        defer { rig.stop() }
        let snapshot = try ReactorRig.snapshot(port: upstream.port, idleTimeout: .milliseconds(200))
        _ = try rig.exchange(snapshot, head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        #expect(try rig.ask { w in w.reactor.parkedCount } == 1)
        #expect(pollTrue { (try? rig.ask { w in w.reactor.parkedCount }) == 0 })
        #expect(try rig.ask { w in w.pool.idleCount } == 0)
        let again = try rig.exchange(snapshot, head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        #expect(again.reused == false)
        #expect(upstream.connectionCount == 2)
    }

    /// A reload that moves the target to another address: the connection parked under the old
    /// generation is not reused, the request goes to the new address.
    @Test func aReloadThatMovesTheTargetDoesNotReuseTheOldConnection() async throws {
        let old = try await ScriptedUpstream { _ in .ok("old") }
        defer { Task { await old.shutdown() } }
        let new = try await ScriptedUpstream { _ in .ok("new") }
        defer { Task { await new.shutdown() } }
        let rig = try ReactorRig()
        defer { rig.stop() }
        let first = try rig.exchange(try ReactorRig.snapshot(port: old.port, generation: 1), head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        #expect(first.body == "old")
        let second = try rig.exchange(try ReactorRig.snapshot(port: new.port, generation: 2), head: "GET / HTTP/1.1\r\nHost: u\r\n\r\n")
        #expect(second.body == "new")
        #expect(second.reused == false)
        #expect(new.connectionCount == 1)
        #expect(try rig.ask { w in w.reactor.stats.adopted } == 0)
    }

    /// An upload larger than the connection's high watermark to an upstream that reads slowly:
    /// the link turns unwritable, the exchange stops taking client bytes, and resumes on drain;
    /// every byte arrives in order.
    @Test(arguments: [ReactorConfiguration.Triggering.edge, .level])
    func aLargeBodyFollowsTheUpstreamsPace(_ triggering: ReactorConfiguration.Triggering) async throws {
        let size = 2 * 1024 * 1024
        let received = Locked<Int>(0)
        let server = try RawServer(receiveBuffer: 4096) { fd in
            var total = 0
            var chunk = [UInt8](repeating: 0, count: 4096)
            var ordered = true
            var head: [UInt8] = []
            var headDone = false
            while total < size {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return }
                var bytes = chunk[0..<n]
                if !headDone {
                    head += bytes
                    guard let end = head.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound else { continue }
                    headDone = true
                    bytes = head[end...]
                }
                for b in bytes {
                    if b != UInt8(truncatingIfNeeded: total % 251) { ordered = false }
                    total += 1
                }
                usleep(200)
            }
            received.update { $0 = ordered ? total : -1 }
            sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        }
        defer { server.stop() }
        let rig = try ReactorRig(triggering: triggering)
        defer { rig.stop() }
        var body = [UInt8](repeating: 0, count: size)
        for i in 0..<size { body[i] = UInt8(truncatingIfNeeded: i % 251) }
        let result = try rig.exchange(
            try ReactorRig.snapshot(port: server.port), head: "POST / HTTP/1.1\r\nHost: u\r\nContent-Length: \(size)\r\n\r\n",
            body: body, timeoutSeconds: 60)
        #expect(result.body == "ok")
        #expect(received.value == size)
        #expect(result.unwritable > 0)
    }
}

// MARK: - The rig

/// What an exchange left in its recording downstream.
struct ExchangeResult: Sendable {
    var heads: [Int]
    var body: String
    var finished: [Bool]
    var answers: [Int]
    var resets: Int
    var ended: [Int]
    var error: ProxyError?
    var reused: Bool?
    var unwritable: Int
}

/// The reactor-thread side of the rig. Touched only on the reactor's thread (through `ask`).
final class ReactorWorld: @unchecked Sendable {
    var reactor: Reactor!
    var pool: UpstreamPool!
    var exchanges: [ExchangeSessionDriver] = []
}

/// A reactor on its own thread with a pool on the reactor transport.
final class ReactorRig: Sendable {
    let world = ReactorWorld()
    let handle: ReactorHandle

    init(triggering: ReactorConfiguration.Triggering = .edge) throws {
        let world = world
        var configuration = ReactorConfiguration()
        configuration.triggering = triggering
        handle = try ReactorHandle.start(configuration) { r in
            world.reactor = r
            world.pool = UpstreamPool(transport: ReactorUpstreamTransport(reactor: r), clock: .system)
        }
    }

    func stop() { handle.stop() }

    static func snapshot(
        port: Int, connectTimeout: Duration = .seconds(5), idleTimeout: Duration = .seconds(60), generation: UInt64 = 1
    ) throws -> ServerSnapshot {
        let upstream = UpstreamRuntime(
            id: "backend", targets: [.init(host: "127.0.0.1", port: port)], connectTimeout: connectTimeout,
            idleTimeout: idleTimeout)
        let snapshot = ServerSnapshot(
            listeners: [.init(id: "main", port: 0)], router: try Router(routes: []), actions: [], instanceID: "t",
            version: "test", upstreams: [upstream])
        return ProxyServer.stamp(snapshot, generation: generation, metrics: MetricsRegistry())
    }

    /// Runs `body` on the reactor thread and waits for its result.
    func ask<T: Sendable>(_ body: @escaping @Sendable (ReactorWorld) -> T) throws -> T {
        let result = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        let world = world
        guard handle.send(.run({ _ in
            let v = body(world)
            result.withLock { $0 = v }
            done.signal()
        })) else { throw RigFailure("mailbox full") }
        guard done.wait(timeout: .now() + 10) == .success, let v = result.withLock({ $0 }) else {
            throw RigFailure("reactor did not answer")
        }
        return v
    }

    func waitForNoSessions() throws -> Bool {
        pollTrue { (try? ask { w in w.reactor.sessionCount }) == 0 }
    }

    /// Runs one exchange in a new session and waits until it has ended.
    func exchange(_ snapshot: ServerSnapshot, head: String, body: [UInt8] = [], timeoutSeconds: Int = 10) throws -> ExchangeResult {
        let index = try ask { w in
            let driver = ExchangeSessionDriver(world: w, snapshot: snapshot, head: head, body: body)
            w.exchanges.append(driver)
            w.reactor.startSession(driver)
            return w.exchanges.count - 1
        }
        for _ in 0..<(timeoutSeconds * 100) {
            if let result = try ask({ w in w.exchanges[index].result }) { return result }
            usleep(10_000)
        }
        throw RigFailure("the exchange did not end")
    }
}

struct RigFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// One exchange as a reactor session: no client socket, the upstream endpoints forwarded to the
/// session's `ReactorUpstreamSite`. The request body (if any) is fed as the exchange asks.
final class ExchangeSessionDriver: ConnectionDriver {
    let site = ReactorUpstreamSite()
    let downstream = RecordingDownstream()
    let exchange: ProxyExchange
    var pendingBody: ByteBuffer
    let feeder = BodyFeeder()

    init(world: ReactorWorld, snapshot: ServerSnapshot, head: String, body: [UInt8]) {
        let shared = ServerShared(snapshot: snapshot, metrics: MetricsRegistry(), clock: .system)
        let framing: RequestFraming = body.isEmpty ? .none : .contentLength(UInt64(body.count))
        exchange = ProxyExchange(
            downstream: downstream, pool: world.pool, shared: shared,
            settings: ExchangeSettings(responseLimits: HTTP1Limits(), via: nil), upstreamIndex: 0,
            upstreams: snapshot.upstreamRefs, headBytes: ByteBuffer(string: head),
            body: BodyCounter(framing: framing, limit: 1 << 30, limits: HTTP1Limits()),
            request: RequestIdentity(
                method: body.isEmpty ? .get : .post, methodName: body.isEmpty ? "GET" : "POST", routeID: "r", traceID: "t",
                startNanos: ServerClock.system.monotonicNanos()),
            clientKeepAlive: true, upgrade: false)
        pendingBody = ByteBuffer(bytes: body)
        downstream.exchange = exchange
        downstream.upstreamSite = site
        downstream.onResume = { [unowned self] in feed() }
    }

    /// Hands the exchange up to 64 KiB more of the body when it asks (as a client connection
    /// reads one buffer at a time).
    func feed() {
        guard !feeder.busy else { return }
        feeder.busy = true
        defer { feeder.busy = false }
        while pendingBody.readableBytes > 0, downstream.requestBytes.readableBytes == 0, exchange.wantsRequestBytes {
            var chunk = pendingBody.readSlice(length: min(65536, pendingBody.readableBytes))!
            downstream.requestBytes.writeBuffer(&chunk)
            exchange.forwardRequestBody()
            if !exchange.upstreamWritable { downstream.unwritableSeen += 1 }
        }
    }

    var result: ExchangeResult? {
        guard !downstream.ended.isEmpty else { return nil }
        return ExchangeResult(
            heads: downstream.heads, body: String(buffer: downstream.body), finished: downstream.finished,
            answers: downstream.answers.map(\.status), resets: downstream.resets, ended: downstream.ended.map(\.status),
            error: downstream.ended.first?.error, reused: exchange.lifecycle.reused, unwritable: downstream.unwritableSeen)
    }

    func start(_ io: inout DriverIO) {
        site.session = io.session
        exchange.start()
    }

    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) { site.received(buffer, on: endpoint) }
    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) { site.inputEnded(on: endpoint) }
    func drained(_ endpoint: Endpoint, _ io: inout DriverIO) { site.drained(endpoint) }
    func connected(_ endpoint: Endpoint, _ io: inout DriverIO) { site.connected(endpoint) }
    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) { site.failed(endpoint, error) }
    func deadlineReached(_ io: inout DriverIO) {}
}

final class BodyFeeder {
    var busy = false
}

/// A port nothing listens on (bound, then closed).
func closedPort() throws -> Int {
    let fd = try Sockets.listen(on: SentinelReactor.SocketAddress(host: "127.0.0.1", port: 0)!)
    let port = try Sockets.localAddress(fd).port
    close(fd)
    return port
}

/// A listener whose accept queue is full (nobody accepts), so further connects hang.
func fullListener() throws -> ((fd: Int32, fillers: [Int32]), Int) {
    let fd = try Sockets.listen(on: SentinelReactor.SocketAddress(host: "127.0.0.1", port: 0)!, backlog: 0)
    let port = try Sockets.localAddress(fd).port
    var fillers: [Int32] = []
    for _ in 0..<4 {
        let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        _ = SentinelReactor.SocketAddress(host: "127.0.0.1", port: port)!.withSockAddr { Glibc.connect(c, $0, $1) }
        fillers.append(c)
    }
    return ((fd, fillers), port)
}

/// A blocking TCP server on 127.0.0.1: each accepted connection runs `serve` on its own thread,
/// then closes.
final class RawServer: Sendable {
    let fd: Int32
    let port: Int

    init(receiveBuffer: Int32? = nil, serve: @escaping @Sendable (Int32) -> Void) throws {
        fd = try Sockets.listen(on: SentinelReactor.SocketAddress(host: "127.0.0.1", port: 0)!)
        port = try Sockets.localAddress(fd).port
        // Accepted sockets inherit the listener's receive buffer (set before any connection).
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        let listener = fd
        detachThread {
            // The listener is closed here, once accepting ended (`stop` only shuts it down).
            defer { close(listener) }
            while true {
                var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                guard poll(&pfd, 1, -1) > 0, pfd.revents & Int16(POLLIN) != 0 else { return }
                let c = accept(listener, nil, nil)
                if c < 0 { return }
                var nb = fcntl(c, F_GETFL)
                nb &= ~O_NONBLOCK
                _ = fcntl(c, F_SETFL, nb)
                detachThread {
                    serve(c)
                    close(c)
                }
            }
        }
    }

    func stop() { shutdown(fd, Int32(SHUT_RDWR)) }
}

/// Reads up to the end of a request head (or the end of the stream).
func readHead(_ fd: Int32) -> [UInt8] {
    var head: [UInt8] = []
    var byte: UInt8 = 0
    while recv(fd, &byte, 1, 0) == 1 {
        head.append(byte)
        if head.count >= 4, head.suffix(4) == [13, 10, 13, 10] { break }
    }
    return head
}

func sendAll(_ fd: Int32, _ text: String) {
    let bytes = Array(text.utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
        if n <= 0 { return }
        off += n
    }
}

func pollTrue(_ condition: () -> Bool) -> Bool {
    for _ in 0..<1000 {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// A value shared between a reactor thread and the test.
final class Locked<Value: Sendable>: Sendable {
    private let m: Mutex<Value>
    init(_ value: Value) { m = Mutex(value) }
    var value: Value { m.withLock { $0 } }
    func update<R>(_ body: (inout Value) -> R) -> R { m.withLock { body(&$0) } }
}
