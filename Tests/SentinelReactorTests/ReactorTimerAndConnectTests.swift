import Dispatch
import Glibc
import SentinelReactor
import Testing

/// Deadlines and outgoing connections on a running reactor.
@Suite struct ReactorTimerAndConnectTests {
    @Test func aDeadlineFiresNotBeforeItsTime() throws {
        let fired = Locked<[UInt64]>([])
        let started = Locked<UInt64>(0)
        let reactor = try ReactorHandle.start { r in
            r.startSession(DeadlineProbe(delays: [80, 30]) { startedAt, firedAt in
                started.update { $0 = startedAt }
                fired.update { $0.append(firedAt) }
            })
        }
        defer { reactor.stop() }
        #expect(pollTrue { fired.value.count == 2 })
        // The second deadline (30 ms) replaced the first (80 ms, moved earlier), then 80 more.
        let f = fired.value
        #expect(f[0] >= started.value + 30)
        #expect(f[1] >= f[0] + 80)
        #expect(try reactor.waitForNoSessions())
    }

    /// Moving a deadline later (what a busy connection does per request) needs no wheel work,
    /// and the timer still fires at the later time.
    @Test func aDeadlineMovedLaterFiresLater() throws {
        let (lfd, port) = try makeListener()
        defer { close(lfd) }
        let reactor = try ReactorHandle.start { r in
            r.addListener(fd: lfd) { _ in IdleTimeoutEcho(idleMilliseconds: 150) { _, _ in } }
            r.setAccepting(true)
        }
        defer { reactor.stop() }
        let client = try Client(port: port)
        defer { client.close() }
        var lastSend = ReactorInstant.now()
        for _ in 0..<5 {  // each byte moves the idle deadline 150 ms later; 5 × 50 ms > 150 ms
            lastSend = ReactorInstant.now()
            try client.send("x")
            _ = try client.receive(exactly: 1)  // fails if the first deadline had closed it
            usleep(50_000)
        }
        #expect(client.receiveToEnd() == [])
        #expect(ReactorInstant.now().milliseconds - lastSend.milliseconds >= 150)
    }

    @Test func connectSucceeds() throws {
        let (lfd, port) = try makeListener()
        defer { close(lfd) }
        #expect(try probe(SocketAddress(host: "127.0.0.1", port: port)!, timeout: 5000) == .connected)
    }

    @Test func connectRefused() throws {
        // A port that was just free: bind, read the port, close.
        let (lfd, port) = try makeListener()
        close(lfd)
        let outcome = try probe(SocketAddress(host: "127.0.0.1", port: port)!, timeout: 5000)
        #expect(outcome == .failed(ReactorError(.connect, errno: ECONNREFUSED)))
    }

    /// A listener whose backlog is full drops further SYNs, so the connect hangs and the
    /// driver's deadline ends it.
    @Test func connectTimesOut() throws {
        let (lfd, port) = try makeListener(backlog: 0)
        defer { close(lfd) }
        // Fill the accept queue (nobody accepts).
        var fillers: [Int32] = []
        defer { fillers.forEach { close($0) } }
        for _ in 0..<4 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = SocketAddress(host: "127.0.0.1", port: port)!.withSockAddr { Glibc.connect(fd, $0, $1) }
            fillers.append(fd)
        }
        let t0 = ReactorInstant.now()
        #expect(try probe(SocketAddress(host: "127.0.0.1", port: port)!, timeout: 300) == .timedOut)
        #expect(ReactorInstant.now().milliseconds - t0.milliseconds >= 300)
    }

    func probe(_ target: SocketAddress, timeout: UInt64) throws -> ConnectProbe.Outcome {
        let outcome = Locked<ConnectProbe.Outcome?>(nil)
        let reactor = try ReactorHandle.start { r in
            r.startSession(ConnectProbe(target: target, timeoutMilliseconds: timeout) { o in outcome.update { $0 = o } })
        }
        defer { reactor.stop() }
        guard pollTrue({ outcome.value != nil }) else { throw TestFailure("no outcome") }
        #expect(try reactor.waitForNoSessions())
        return outcome.value!
    }
}

func pollTrue(_ condition: () -> Bool) -> Bool {
    for _ in 0..<1000 {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// Arms two deadlines in one call (the earlier wins; the other's wheel entry goes stale),
/// then one more after the first fired; reports when each fired. A session with a deadline
/// and no socket lives until it finishes.
final class DeadlineProbe: ConnectionDriver {
    let delays: [UInt64]
    var fired = 0
    var startedAt: UInt64 = 0
    let report: @Sendable (UInt64, UInt64) -> Void
    init(delays: [UInt64], report: @escaping @Sendable (UInt64, UInt64) -> Void) {
        self.delays = delays
        self.report = report
    }
    func start(_ io: inout DriverIO) {
        startedAt = io.now.milliseconds
        io.setDeadline(io.now.adding(milliseconds: delays[0]))
        io.setDeadline(io.now.adding(milliseconds: delays[1]))
    }
    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) {}
    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) {}
    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) {}
    func deadlineReached(_ io: inout DriverIO) {
        report(startedAt, io.now.milliseconds)
        fired += 1
        if fired == 1 {
            io.setDeadline(io.now.adding(milliseconds: 80))
        } else {
            io.finish()
        }
    }
}

/// An echo that closes after `idleMilliseconds` without input; each read moves the deadline later.
final class IdleTimeoutEcho: ConnectionDriver {
    let idle: UInt64
    let closed: @Sendable (UInt64, UInt64) -> Void
    var started: UInt64 = 0
    init(idleMilliseconds: UInt64, closed: @escaping @Sendable (UInt64, UInt64) -> Void) {
        idle = idleMilliseconds
        self.closed = closed
    }
    func start(_ io: inout DriverIO) {
        started = io.now.milliseconds
        io.setDeadline(io.now.adding(milliseconds: idle))
    }
    func received(_ buffer: IOBuffer, on endpoint: Endpoint, _ io: inout DriverIO) {
        io.write(endpoint, buffer)
        io.setDeadline(io.now.adding(milliseconds: idle))
    }
    func inputEnded(on endpoint: Endpoint, _ io: inout DriverIO) { io.finish() }
    func failed(_ endpoint: Endpoint, _ error: ReactorError, _ io: inout DriverIO) { io.finish(.reset) }
    func deadlineReached(_ io: inout DriverIO) {
        closed(started, io.now.milliseconds)
        io.finish()
    }
}
